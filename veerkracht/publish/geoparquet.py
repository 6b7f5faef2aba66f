"""Output format GeoParquet 1.1 (rows ``parquet_4326`` and ``parquet_28992`` of the sources registry).

geopandas writes it with ``schema_version="1.1.0"`` (it would stamp 1.0.0 otherwise), WKB
encoding (the most portable), a ``bbox`` covering column so readers can filter by extent
(QGIS < 3.44 shows the struct column as an unknown field; harmless), and zstd compression.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd


def write(gdf: gpd.GeoDataFrame, path: Path, *, layer: str, crs: str) -> None:
    """Write ``gdf`` (reprojected to ``crs``) as GeoParquet 1.1 to ``path``."""
    gdf.to_crs(crs).to_parquet(
        path, compression="zstd", schema_version="1.1.0", write_covering_bbox=True, index=False
    )
