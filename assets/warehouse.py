"""Stage 3, warehouse: load the staged Parquet into DuckDB and build the core models in sql/."""

from pathlib import Path

import dagster as dg

from assets.checks import check_result, check_specs
from assets.geometries import region_geometries
from assets.partitions import ONE_RUN, YEARS, per_year, run_years
from assets.resources import DuckDBSpatialResource, HelperProcesses, PipelineSettings
from assets.statistics import kwb_statistics
from assets.versions import CODE_VERSION
from veerkracht import checks, warehouse


@dg.asset(
    code_version=CODE_VERSION,
    partitions_def=YEARS,
    backfill_policy=ONE_RUN,
    deps=[kwb_statistics, region_geometries],
    group_name="warehouse",
    kinds={"duckdb"},
    pool="duckdb",
    check_specs=check_specs("warehouse", "warehouse_core"),
)
def warehouse_core(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    build_db: DuckDBSpatialResource,
    helpers: HelperProcesses,
) -> dg.MaterializeResult:
    """Regions, indicators (long form, vintages combined) and availability of each year in DuckDB."""
    years = run_years(context)
    metadata = {}
    with build_db.get_connection() as con:
        for year in years:
            metadata[year] = _load_year(context, con, settings, year)
        outcomes = checks.run_stage_years(con, "warehouse", years)
        ahead = {}
        if helpers.can_work_ahead and settings.cache_dir and _publishes_web_map(context):
            ahead["web map tiles"] = _tile_ahead(con, settings, helpers)
    return dg.MaterializeResult(
        check_results=[check_result(o) for o in outcomes], metadata={**per_year(metadata), **ahead}
    )


def _publishes_web_map(context: dg.AssetExecutionContext) -> bool:
    """Whether this run goes on to the web map (every asset: no selection, or one with it)."""
    selection = context.run.asset_selection
    return not selection or dg.AssetKey("web_map") in selection


def _tile_ahead(con, settings: PipelineSettings, helpers: HelperProcesses) -> str:
    """The web map's tiles of every year's boundaries, made into the cache by a process at the
    lowest priority while the crosswalk, resident counts and scores are computed (a run in one
    process with cores to spare, :meth:`HelperProcesses.ahead`): the web map step then takes them
    from the cache instead of tiling them after the layers. Every year of the warehouse: the web
    map shows them all."""
    from veerkracht.publish import layers, webmap

    rows = layers.boundary_rows(con)
    helpers.ahead(webmap.tile_ahead, rows, CODE_VERSION, Path(settings.cache_dir))
    return f"tiled ahead, beside the next steps, where the cache lacks them ({rows['year'].nunique()} years)"


def _load_year(context: dg.AssetExecutionContext, con, settings: PipelineSettings, year: int) -> dict:
    staged = settings.layout.staging(year)
    rows = {**warehouse.load_staged_year(con, year, staged), **warehouse.build_core(con, year, staged)}
    levels = dict(warehouse.query(con, "report/regions_per_level", year=year).itertuples(index=False))
    orphans = warehouse.query(con, "report/geometry_without_statistics", year=year)
    checks.record_availability(con, year)
    for row in orphans[orphans["geometry_source"].str.startswith("file:")].itertuples():
        context.log.warning(
            f"{row.geometry_source}: {row.areas} {row.level} codes the KWB {year} statistics do not list "
            f"(e.g. {', '.join(row.examples[:3])}); their polygons are not used"
        )
    return {
        **{f"rows {t}": dg.MetadataValue.int(n) for t, n in rows.items()},
        **{f"regions {lvl}": dg.MetadataValue.int(n) for lvl, n in levels.items()},
        "polygons whose code the statistics do not list (left out of the layers)": dg.MetadataValue.md(
            orphans.to_markdown(index=False) if len(orphans) else "none"
        ),
    }
