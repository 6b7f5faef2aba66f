"""Stage 3, warehouse: load the staged Parquet into DuckDB and build the core models in sql/."""

import dagster as dg

from pipelines.partitions import YEARS
from pipelines.resources import DuckDBSpatialResource, PipelineSettings
from veerkracht import checks, warehouse

from assets.geometries import region_geometries
from assets.statistics import kwb_statistics

WAREHOUSE_CHECKS = ["region_codes", "geometry_valid", "buurten_cover_gemeente", "coverage_no_sharp_drop",
                    "percentages_in_range", "buurt_sums_match_gemeente", "year_over_year_continuity",
                    "indicators_published"]


@dg.asset(partitions_def=YEARS, deps=[kwb_statistics, region_geometries], group_name="warehouse",
          kinds={"duckdb"}, pool="duckdb",
          check_specs=[dg.AssetCheckSpec(name, asset="warehouse_core", blocking=True)
                       for name in WAREHOUSE_CHECKS])
def warehouse_core(context: dg.AssetExecutionContext, settings: PipelineSettings,
                   duckdb: DuckDBSpatialResource) -> dg.MaterializeResult:
    """Regions, indicators (long form, vintages combined) and availability of the year in DuckDB."""
    year = int(context.partition_key)
    staged = settings.layout.staging(year)
    with duckdb.get_connection() as con:
        rows = warehouse.load_staged_year(con, year, staged)
        for table, model in warehouse.CORE_MODELS:
            rows[table] = warehouse.build_model(con, table, model, year)
        levels = dict(con.execute(
            "SELECT level, count(*) FROM core.dim_region WHERE year = ? GROUP BY level", [year]).fetchall())
        checks.record_availability(con, year)
        outcomes = checks.warehouse_checks(con, year)
    return dg.MaterializeResult(check_results=[check_result(o) for o in outcomes], metadata={
        **{f"rows {t}": dg.MetadataValue.int(n) for t, n in rows.items()},
        **{f"regions {lvl}": dg.MetadataValue.int(n) for lvl, n in levels.items()},
    })


def check_result(outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    """A domain check outcome as a Dagster asset check result (ERROR blocks downstream)."""
    severity = dg.AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else dg.AssetCheckSeverity.WARN
    metadata = {**outcome.metadata, "description": outcome.description}
    if not outcome.offending.empty:
        metadata["offending rows (first 50)"] = dg.MetadataValue.md(outcome.offending.to_markdown(index=False))
    return dg.AssetCheckResult(check_name=outcome.name, passed=outcome.passed, severity=severity,
                               metadata=metadata)
