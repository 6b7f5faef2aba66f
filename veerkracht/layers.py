"""Publishing area layers for GIS: GeoParquet 1.1 (EPSG:4326 and EPSG:28992) and GeoPackage.

Belongs here: turning the ``marts.area`` rows of one year and level into files, each written
to a temporary name and renamed into place so a failed run never leaves a half-written layer.

Options and their caveats:

* GeoParquet is written by geopandas with ``schema_version="1.1.0"`` (geopandas would stamp
  1.0.0 otherwise), WKB encoding (the most portable), a ``bbox`` covering column so readers can
  filter by extent (QGIS < 3.44 shows the struct column as an unknown field; harmless), and
  zstd compression.
* Rows are sorted along a Hilbert curve over the extent of the Netherlands, so neighbouring
  areas sit in the same row group and bbox filters read little.
* The GeoPackage is for QGIS builds without GDAL's Parquet driver (many macOS and Linux
  packages); it holds the same columns, EPSG:28992.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from veerkracht import warehouse
from veerkracht.spec import MethodSpec
from veerkracht.styles import write_qml

RD_NEW = "EPSG:28992"
WGS84 = "EPSG:4326"
#: Extent of the Netherlands in RD New (metres), used as the Hilbert curve's frame so that files
#: of different years and levels order areas the same way.
NL_EXTENT_RD = (0.0, 300_000.0, 300_000.0, 625_000.0)


def layer_paths(out_dir: Path, year: int, level: str) -> dict[str, Path]:
    """File names of one layer: ``<level>_<year>_{4326,28992}.parquet`` and ``.gpkg``."""
    base = Path(out_dir) / str(year)
    return {
        "parquet_4326": base / f"{level}_{year}_4326.parquet",
        "parquet_28992": base / f"{level}_{year}_28992.parquet",
        "gpkg": base / f"{level}_{year}.gpkg",
    }


def build_area_mart(con, year: int, spec: MethodSpec) -> int:
    """(Re)build the ``year`` rows of ``marts.area`` (``sql/mart_area.sql``, classes as ``spec``
    says); return their number."""
    return warehouse.build_model(con, "marts.area", "mart_area", year, **spec.sql_params())


def read_level(con, year: int, level: str) -> gpd.GeoDataFrame:
    """The ``marts.area`` rows of one year and level as a GeoDataFrame (EPSG:28992), by code."""
    return frame_from_wkb(con.execute(
        "SELECT * EXCLUDE (geometry), ST_AsWKB(geometry) AS wkb FROM marts.area "
        "WHERE year = ? AND level = ? ORDER BY code", [year, level]).df())


def frame_from_wkb(rows: pd.DataFrame, wkb_column: str = "wkb", crs: str = RD_NEW) -> gpd.GeoDataFrame:
    """GeoDataFrame from rows whose geometry is WKB bytes (as DuckDB's ST_AsWKB returns)."""
    geoms = shapely.from_wkb(rows[wkb_column].map(
        lambda b: bytes(b) if isinstance(b, (bytes, bytearray, memoryview)) else None).to_numpy())
    return gpd.GeoDataFrame(rows.drop(columns=wkb_column), geometry=geoms, crs=crs)


def hilbert_sorted(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows ordered along a Hilbert curve over the Netherlands (areas without geometry last)."""
    rd = gdf.to_crs(RD_NEW)
    has = rd.geometry.notna() & ~rd.geometry.is_empty
    key = pd.Series(len(gdf) * [2**40], index=gdf.index, dtype="int64")
    key[has] = rd[has].hilbert_distance(total_bounds=NL_EXTENT_RD)
    return gdf.loc[key.sort_values(kind="stable").index].reset_index(drop=True)


def write_layer(gdf: gpd.GeoDataFrame, out_dir: Path, year: int, level: str) -> dict[str, Path]:
    """Write one level/year layer in all formats; return the paths.

    Areas without a polygon are left out of the files (they stay in ``marts.area``): a GIS
    layer row without geometry breaks the GeoParquet bbox covering and draws nothing anyway.
    """
    paths = layer_paths(out_dir, year, level)
    paths["gpkg"].parent.mkdir(parents=True, exist_ok=True)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    rd = hilbert_sorted(gdf.to_crs(RD_NEW))
    _atomic(paths["parquet_28992"], lambda p: rd.to_parquet(
        p, compression="zstd", schema_version="1.1.0", write_covering_bbox=True, index=False))
    wgs = rd.to_crs(WGS84)
    _atomic(paths["parquet_4326"], lambda p: wgs.to_parquet(
        p, compression="zstd", schema_version="1.1.0", write_covering_bbox=True, index=False))
    _atomic(paths["gpkg"], lambda p: rd.to_file(p, layer=f"{level}_{year}", driver="GPKG",
                                                 engine="pyogrio"))
    fields = [c for c in rd.columns if c != "geometry"]
    for path in list(paths.values()):
        paths[f"qml_{path.stem}"] = write_qml(path, fields)
    return paths


def _atomic(target: Path, write) -> None:
    # Keep the extension: GDAL picks drivers by it.
    tmp = target.with_name(f".partial-{target.name}")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
