"""Stage 3, warehouse: load the staged Parquet into DuckDB and build the core models in sql/."""

import dagster as dg

from assets.checks import check_result, check_specs
from assets.geometries import region_geometries
from assets.partitions import YEARS
from assets.resources import DuckDBSpatialResource, PipelineSettings
from assets.statistics import kwb_statistics
from veerkracht import checks, warehouse


@dg.asset(
    partitions_def=YEARS,
    deps=[kwb_statistics, region_geometries],
    group_name="warehouse",
    kinds={"duckdb"},
    pool="duckdb",
    check_specs=check_specs("warehouse", "warehouse_core"),
)
def warehouse_core(
    context: dg.AssetExecutionContext, settings: PipelineSettings, build_db: DuckDBSpatialResource
) -> dg.MaterializeResult:
    """Regions, indicators (long form, vintages combined) and availability of the year in DuckDB."""
    year = int(context.partition_key)
    staged = settings.layout.staging(year)

    with build_db.get_connection() as con:
        rows = warehouse.load_staged_year(con, year, staged)
        for table, model in warehouse.CORE_MODELS:
            rows[table] = warehouse.build_model(con, table, model, year)
        levels = dict(warehouse.query(con, "report/regions_per_level", year=year).itertuples(index=False))
        orphans = warehouse.query(con, "report/geometry_without_statistics", year=year)
        checks.record_availability(con, year)
        outcomes = checks.run_stage(con, "warehouse", year)
    for row in orphans[orphans["geometry_source"].str.startswith("file:")].itertuples():
        context.log.warning(
            f"{row.geometry_source}: {row.areas} {row.level} codes the KWB {year} statistics do not list "
            f"(e.g. {', '.join(row.examples[:3])}); their polygons are not used"
        )
    return dg.MaterializeResult(
        check_results=[check_result(o) for o in outcomes],
        metadata={
            **{f"rows {t}": dg.MetadataValue.int(n) for t, n in rows.items()},
            **{f"regions {lvl}": dg.MetadataValue.int(n) for lvl, n in levels.items()},
            "polygons whose code the statistics do not list (left out of the layers)": dg.MetadataValue.md(
                orphans.to_markdown(index=False) if len(orphans) else "none"
            ),
        },
    )
