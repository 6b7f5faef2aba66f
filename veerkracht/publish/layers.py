"""Publishing area layers for GIS: GeoParquet 1.1 (EPSG:4326 and EPSG:28992) and GeoPackage.

Belongs here: turning the ``marts.area`` rows of one year and level into one file per output
format of :mod:`veerkracht.sources` (the writers are :mod:`veerkracht.publish.geoparquet` and
:mod:`veerkracht.publish.geopackage`), each written to a temporary name and renamed into place
so a failed run never leaves a half-written layer. Rows are sorted along a Hilbert curve over
the extent of the Netherlands, so neighbouring areas sit in the same row group and bbox filters
read little; a QGIS style (.qml) is written next to every file.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from veerkracht import sources, warehouse
from veerkracht.atomic import atomic_path
from veerkracht.codes import LEVELS
from veerkracht.geo import RD_NEW
from veerkracht.method.spec import MethodSpec
from veerkracht.publish.styles import write_qml

#: Extent of the Netherlands in RD New (metres), used as the Hilbert curve's frame so that files
#: of different years and levels order areas the same way.
NL_EXTENT_RD = (0.0, 300_000.0, 300_000.0, 625_000.0)


def layer_paths(out_dir: Path, year: int, level: str) -> dict[str, Path]:
    """File of one layer per output format (``parquet_4326``, ``parquet_28992``, ``gpkg``, …)."""
    base = Path(out_dir) / str(year)
    return {
        f.name: base / f.filename.format(level=level, year=year)
        for f in sources.SOURCES
        if f.kind == "format"
    }


def build_marts(con, years: list[int], spec: MethodSpec) -> dict[int, int]:
    """(Re)build the ``years`` rows of ``marts.area`` (``sql/mart_area.sql``, classes as ``spec``
    says) and then of ``marts.shortlist`` (``sql/shortlist.sql``), each model once over all the
    years; return the ``marts.area`` rows per year."""
    run = [{"year": int(year)} for year in years]
    rows = warehouse.build_model_years(con, "marts.area", "mart_area", run, **spec.sql_params())
    warehouse.build_model_years(con, "marts.shortlist", "shortlist", run, **spec.sql_params())
    return rows


def read_shortlist(con, year: int) -> pd.DataFrame:
    """The ``year`` rows of ``marts.shortlist``, by level and position."""
    return warehouse.frame(
        con.execute("SELECT * FROM marts.shortlist WHERE year = ? ORDER BY level, position", [year])
    )


def write_shortlists(rows: pd.DataFrame, out_dir: Path, year: int) -> dict[str, Path]:
    """One CSV per level, ``layers/<year>/shortlist_<level>_<year>.csv`` (written atomically)."""
    paths = {}
    for level, part in rows.groupby("level"):
        path = Path(out_dir) / str(year) / f"shortlist_{level}_{year}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            part.to_csv(tmp, index=False)
        paths[level] = path
    return paths


def read_level(con, year: int, level: str) -> gpd.GeoDataFrame:
    """The ``marts.area`` rows of one year and level as a GeoDataFrame (EPSG:28992), by code."""
    return frame_from_wkb(
        warehouse.frame(
            con.execute(
                "SELECT * EXCLUDE (geometry), ST_AsWKB(geometry) AS wkb FROM marts.area "
                "WHERE year = ? AND level = ? ORDER BY code",
                [year, level],
            )
        )
    )


def frame_from_wkb(rows: pd.DataFrame, wkb_column: str = "wkb", crs: str = RD_NEW) -> gpd.GeoDataFrame:
    """GeoDataFrame from rows whose geometry is WKB bytes (as DuckDB's ST_AsWKB returns)."""
    geoms = shapely.from_wkb(
        rows[wkb_column]
        .map(lambda b: bytes(b) if isinstance(b, (bytes, bytearray, memoryview)) else None)
        .to_numpy()
    )
    return gpd.GeoDataFrame(rows.drop(columns=wkb_column), geometry=geoms, crs=crs)


def layer_rows(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows a layer file holds, in its order (EPSG:28992): areas with a polygon, along a
    Hilbert curve (:func:`hilbert_sorted`). Areas without a polygon are left out of the files
    (they stay in ``marts.area``): a GIS layer row without geometry breaks the GeoParquet bbox
    covering and draws nothing anyway."""
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return hilbert_sorted(gdf.to_crs(RD_NEW))


def boundary_rows(con) -> pd.DataFrame:
    """The polygons the layers of every year in the warehouse will hold, read before
    ``marts.area`` is built: ``year``, ``level``, ``code`` and ``wkb`` of every area of
    ``core.dim_region`` with a polygon in ``staging.geometry``, the join ``sql/mart_area.sql``
    takes them from (:func:`boundaries` makes a year's frames of them)."""
    return warehouse.frame(
        con.execute(
            "SELECT r.year, r.level, r.code, ST_AsWKB(g.geom) AS wkb FROM core.dim_region AS r "
            "JOIN staging.geometry AS g ON g.year = r.year AND g.code = r.code "
            "WHERE r.level IN ('gemeente', 'wijk', 'buurt') ORDER BY r.year, r.code"
        )
    )


def boundaries(rows: pd.DataFrame, year: int) -> dict[str, gpd.GeoDataFrame]:
    """Per level of ``year`` with polygons, the ``code`` and ``geometry`` of the areas in
    :func:`boundary_rows`, as the year's layer files will hold them (:func:`layer_rows`, in
    EPSG:4326) and the web map reads them back. For work done ahead (the web map's tiles); what
    is published is keyed on the files themselves."""
    crs = sources.get("format", "parquet_4326").options["crs"]
    out = {}
    for level in LEVELS:
        part = rows[(rows["year"] == year) & (rows["level"] == level)][["code", "wkb"]]
        frame = layer_rows(frame_from_wkb(part.reset_index(drop=True)))
        if len(frame):
            out[level] = frame.to_crs(crs).reset_index(drop=True)
    return out


def hilbert_sorted(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows ordered along a Hilbert curve over the Netherlands (areas without geometry last)."""
    rd = gdf.to_crs(RD_NEW)
    has = rd.geometry.notna() & ~rd.geometry.is_empty
    key = pd.Series(len(gdf) * [2**40], index=gdf.index, dtype="int64")
    key[has] = rd[has].hilbert_distance(total_bounds=NL_EXTENT_RD)
    return gdf.loc[key.sort_values(kind="stable").index].reset_index(drop=True)


def remove_layer(out_dir: Path, year: int, level: str) -> list[Path]:
    """Delete every file of the ``level``/``year`` layer (and its styles); return what was removed."""
    removed = []
    for path in layer_paths(out_dir, year, level).values():
        for p in (path, path.with_suffix(".qml")):
            if p.exists():
                p.unlink()
                removed.append(p)
    return removed


def write_layer(gdf: gpd.GeoDataFrame, out_dir: Path, year: int, level: str) -> dict[str, Path]:
    """Write one level/year layer in every output format (its rows: :func:`layer_rows`); return
    the paths (and their styles)."""
    with ThreadPoolExecutor(max_workers=len(layer_paths(out_dir, year, level))) as pool:
        return submit_layer(gdf, out_dir, year, level, pool).result()


class PendingLayer:
    """A layer whose files are being written (:func:`submit_layer`)."""

    def __init__(self, paths: dict[str, Path], writes: list[Future], fields: list[str]):
        self.paths, self._writes, self._fields = paths, writes, fields

    def result(self) -> dict[str, Path]:
        """Wait until every file is written; then its paths and their styles (the first error
        raised, once every write has ended)."""
        wait(self._writes)
        for done in self._writes:
            done.result()
        paths = dict(self.paths)
        for path in self.paths.values():
            paths[f"qml_{path.stem}"] = write_qml(path, self._fields)
        return paths


def submit_layer(gdf: gpd.GeoDataFrame, out_dir: Path, year: int, level: str, pool: Executor) -> PendingLayer:
    """Start writing one level/year layer in every output format on ``pool``'s threads, one file
    a task: reprojecting (PROJ), WKB encoding (shapely), Parquet (Arrow) and GeoPackage (GDAL)
    writing release the GIL, so the formats, and the layers given to one pool, overlap (issue 17).
    Each file is still written to a temporary name and renamed."""
    paths = layer_paths(out_dir, year, level)
    rd = layer_rows(gdf)

    def write(name: str) -> None:
        fmt = sources.get("format", name)
        with atomic_path(paths[name]) as tmp:
            fmt.load().write(rd, tmp, layer=f"{level}_{year}", **fmt.options)

    writes = [pool.submit(write, name) for name in paths]
    return PendingLayer(paths, writes, [c for c in rd.columns if c != "geometry"])
