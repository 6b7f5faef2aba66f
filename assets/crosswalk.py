"""Boundary crosswalks between years, so values of one year's areas can be carried onto another's."""

import dagster as dg
import pandas as pd

from pipelines.resources import DuckDBSpatialResource, PipelineSettings
from veerkracht import warehouse
from veerkracht.crosswalk import crosswalk
from veerkracht.geometry import embedded_geometry_path, read_geometries
from veerkracht.registry import LEVELS

from assets.warehouse import warehouse_core


class CrosswalkConfig(dg.Config):
    """Which two years to connect (the embedded snapshot has boundaries of 2019 and 2024)."""

    from_year: int = 2019
    to_year: int = 2024


@dg.asset(deps=[warehouse_core], group_name="geometry", kinds={"shapely", "duckdb"}, pool="duckdb")
def boundary_crosswalk(context: dg.AssetExecutionContext, config: CrosswalkConfig, settings: PipelineSettings,
                       duckdb: DuckDBSpatialResource) -> dg.MaterializeResult:
    """Area- and population-weighted crosswalk per level between two years' boundaries."""
    out_dir = settings.layout.root / "crosswalk"
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata: dict = {}
    frames = []
    with duckdb.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        population = _population(con, config.to_year)
        for level in LEVELS:
            paths = [embedded_geometry_path(settings.embedded_dir, y, level) for y in (config.from_year, config.to_year)]
            if not all(p.is_file() for p in paths):
                continue
            source, target = (read_geometries(p) for p in paths)
            for year, gdf in ((config.from_year, source), (config.to_year, target)):
                _store_boundaries(con, year, level, gdf)
            cw = crosswalk(source, target, target_population=population)
            cw.insert(0, "level", level)
            cw.to_parquet(out_dir / f"{level}_{config.from_year}_{config.to_year}.parquet", index=False)
            frames.append(cw)
            sources = cw.groupby("source_code")["unchanged"].first()
            metadata[f"{level}: source areas"] = int(len(sources))
            metadata[f"{level}: unchanged (1:1)"] = int(sources.sum())
            metadata[f"{level}: changed"] = int((~sources).sum())
        if not frames:
            raise FileNotFoundError(f"No level has embedded boundaries for both {config.from_year} and {config.to_year}")
        all_cw = pd.concat(frames, ignore_index=True)
        warehouse.store_crosswalk(con, all_cw, config.from_year, config.to_year)
    return dg.MaterializeResult(metadata={"from_year": config.from_year, "to_year": config.to_year,
                                          "rows": len(all_cw), **metadata})


def _population(con, year: int) -> pd.Series | None:
    """Inhabitants per area of ``year`` from the warehouse, for population weights."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'core' "
                         "AND table_name = 'fact_indicator'").fetchone()[0]
    if not exists:
        return None
    rows = con.execute("SELECT code, value FROM core.fact_indicator WHERE year = ? AND canonical = 'AantalInwoners' "
                       "AND value IS NOT NULL", [year]).df()
    return rows.set_index("code")["value"] if len(rows) else None


def _store_boundaries(con, year: int, level: str, gdf) -> None:
    """Keep the polygons the crosswalk used in ``core.boundary`` (every year the repo has)."""
    rows = gdf[["code", "geometry_source"]].assign(wkb=gdf.geometry.to_wkb())
    con.register("b", rows)
    con.execute("CREATE TABLE IF NOT EXISTS core.boundary (year INTEGER, level VARCHAR, code VARCHAR, "
                "geometry_source VARCHAR, geom GEOMETRY('EPSG:28992'))")
    con.execute("DELETE FROM core.boundary WHERE year = ? AND level = ?", [year, level])
    con.execute("INSERT INTO core.boundary SELECT ?, ?, code, geometry_source, "
                "ST_SetCRS(ST_GeomFromWKB(wkb), 'EPSG:28992') FROM b", [year, level])
    con.unregister("b")
