"""Output format GeoPackage (row ``gpkg`` of the sources registry), for QGIS builds without GDAL's
Parquet driver (many macOS and Linux packages) and for pyogrio, whose GDAL cannot read Parquet.
It holds the same columns as the GeoParquet layers, one layer named ``<level>_<year>``."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd


def write(gdf: gpd.GeoDataFrame, path: Path, *, layer: str, crs: str) -> None:
    """Write ``gdf`` (reprojected to ``crs``) as a one-layer GeoPackage to ``path``."""
    gdf.to_crs(crs).to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
