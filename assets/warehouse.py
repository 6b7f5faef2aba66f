"""Stage 3, warehouse: load the staged Parquet into DuckDB and build the core models in sql/."""

import dagster as dg

from pipelines.partitions import YEARS
from pipelines.resources import DuckDBSpatialResource, PipelineSettings
from veerkracht import warehouse

from assets.geometries import region_geometries
from assets.statistics import kwb_statistics

CORE_MODELS = [("core.dim_region", "dim_region"), ("core.dim_indicator", "dim_indicator"),
               ("core.fact_indicator", "fact_indicator"),
               ("core.indicator_availability", "indicator_availability")]


@dg.asset(partitions_def=YEARS, deps=[kwb_statistics, region_geometries], group_name="warehouse",
          kinds={"duckdb"}, pool="duckdb")
def warehouse_core(context: dg.AssetExecutionContext, settings: PipelineSettings,
                   duckdb: DuckDBSpatialResource) -> dg.MaterializeResult:
    """Regions, indicators (long form, vintages combined) and availability of the year in DuckDB."""
    year = int(context.partition_key)
    staged = settings.layout.staging(year)
    rows = {}
    with duckdb.get_connection() as con:
        for name in ("kwb_region", "kwb_indicator", "kwb_value"):
            rows[f"staging.{name}"] = warehouse.replace_year(
                con, f"staging.{name}", year, f"SELECT * FROM read_parquet('{staged / name}.parquet')")
        rows["staging.geometry"] = warehouse.replace_year(
            con, "staging.geometry", year,
            f"SELECT code, level, geometry_source, geometry AS geom "
            f"FROM read_parquet('{staged}/geometry_*.parquet')")
        for table, model in CORE_MODELS:
            rows[table] = warehouse.build_model(con, table, model, year)
        levels = dict(con.execute(
            "SELECT level, count(*) FROM core.dim_region WHERE year = ? GROUP BY level", [year]).fetchall())
    return dg.MaterializeResult(metadata={
        **{f"rows {t}": dg.MetadataValue.int(n) for t, n in rows.items()},
        **{f"regions {lvl}": dg.MetadataValue.int(n) for lvl, n in levels.items()},
    })
