"""Boundary crosswalks between years, so values of one year's areas can be carried onto another's."""

import dagster as dg
import pandas as pd

from assets.resources import DuckDBSpatialResource, PipelineSettings
from assets.warehouse import warehouse_core
from veerkracht import sources, warehouse
from veerkracht.atomic import atomic_path
from veerkracht.codes import LEVELS
from veerkracht.geo.crosswalk import crosswalk


class CrosswalkConfig(dg.Config):
    """Which two years to connect (the embedded snapshot has boundaries of 2019 and 2024)."""

    from_year: int = 2019
    to_year: int = 2024


@dg.asset(deps=[warehouse_core], group_name="geometry", kinds={"shapely", "duckdb"}, pool="duckdb")
def boundary_crosswalk(
    context: dg.AssetExecutionContext,
    config: CrosswalkConfig,
    settings: PipelineSettings,
    build_db: DuckDBSpatialResource,
) -> dg.MaterializeResult:
    """Area- and population-weighted crosswalk per level between two years' boundaries, from the
    run's geometry source (levels the source lacks for either year are skipped and named)."""
    reader = sources.get("geometry", settings.geometry_source).load()
    years = (config.from_year, config.to_year)
    url = settings.pdok_url or None
    have = [set(reader.levels_available(y, embedded_dir=settings.embedded_dir, url=url)) for y in years]
    levels = tuple(lv for lv in LEVELS if lv in have[0] and lv in have[1])
    skipped = [lv for lv in LEVELS if lv not in levels]
    if not levels:
        raise FileNotFoundError(
            f"Geometry source {settings.geometry_source!r} has no level with boundaries "
            f"for both {config.from_year} and {config.to_year}"
        )
    if skipped:
        context.log.info(
            f"Crosswalk {years}: no {', '.join(skipped)} boundaries for both years in "
            f"geometry source {settings.geometry_source!r}"
        )
    frames = [
        reader.read_year(y, levels, embedded_dir=settings.embedded_dir, raw_dir=settings.layout.raw, url=url)
        for y in years
    ]
    out_dir = settings.layout.crosswalk
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata: dict = {"geometry_source": settings.geometry_source, "levels skipped (no boundaries)": skipped}
    parts = []
    with build_db.get_connection() as con:
        population = warehouse.population(con, config.to_year)
        for level in levels:
            source, target = frames[0][level], frames[1][level]
            for year, gdf in zip(years, (source, target), strict=False):
                warehouse.store_boundaries(con, year, level, gdf)
            cw = crosswalk(source, target, target_population=population)
            cw.insert(0, "level", level)
            with atomic_path(out_dir / f"{level}_{config.from_year}_{config.to_year}.parquet") as tmp:
                cw.to_parquet(tmp, index=False)
            parts.append(cw)
            per_source = cw.groupby("source_code")["unchanged"].first()
            metadata[f"{level}: source areas"] = int(len(per_source))
            metadata[f"{level}: unchanged (1:1)"] = int(per_source.sum())
            metadata[f"{level}: changed"] = int((~per_source).sum())
        all_cw = pd.concat(parts, ignore_index=True)
        warehouse.store_crosswalk(con, all_cw, config.from_year, config.to_year)
    return dg.MaterializeResult(
        metadata={"from_year": config.from_year, "to_year": config.to_year, "rows": len(all_cw), **metadata}
    )
