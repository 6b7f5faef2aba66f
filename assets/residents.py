"""Stage 4b, residents: how many residents are in a vulnerable position per area (published,
carried from the newest earlier vintage, or modelled), with 90 % intervals and the buurt
validation on gemeenten the fit never saw (``veerkracht.method.residents``)."""

import dagster as dg

from assets.checks import check_result, check_specs
from assets.crosswalk import boundary_crosswalk
from assets.partitions import per_year
from assets.resources import DuckDBSpatialResource, HelperProcesses, PipelineSettings
from assets.versions import CODE_VERSION
from assets.warehouse import warehouse_core
from veerkracht import checks, warehouse


@dg.asset(
    code_version=CODE_VERSION,
    # Each year reads its own statistics and those of the source vintage (KWB 2021, the newest with
    # income figures per wijk) through the crosswalk: all years in one pass.
    deps=[warehouse_core, boundary_crosswalk],
    group_name="scores",
    kinds={"duckdb", "scikitlearn"},
    pool="duckdb",
    check_specs=check_specs("residents", "resident_estimates"),
)
def resident_estimates(
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    build_db: DuckDBSpatialResource,
    helpers: HelperProcesses,
) -> dg.MaterializeResult:
    """core.vulnerable_residents of every year: residents of low-income households per area, with
    kind (published | carried | modelled), vintage and 90 % interval; core.resident_validation."""
    import pyarrow.parquet as pq

    from veerkracht.cache import FileCache
    from veerkracht.method import residents

    truth = residents.load_buurt_truth(settings.embedded_dir)
    # Estimates another output folder made from the same inputs with this code (veerkracht/cache.py).
    cache = FileCache.under(settings.cache_dir, "residents", residents.KEEP_ESTIMATES, verify=pq.read_table)
    metadata = {}
    with build_db.get_connection(spatial=False) as con:
        years = warehouse.built_years(con)
        for year in years:
            metadata[year] = _estimate_year(context, con, year, truth, cache, helpers)
        outcomes = checks.run_stage_years(con, "residents", years)
    return dg.MaterializeResult(
        check_results=[check_result(o) for o in outcomes], metadata=per_year(metadata)
    )


def _estimate_year(context: dg.AssetExecutionContext, con, year: int, truth, cache, helpers) -> dict:
    from veerkracht.method import residents

    run = residents.estimate_year(con, year, truth, code=CODE_VERSION, cache=cache, submit=helpers.submit)
    if run.missing_source:
        context.log.warning(run.missing_source)
    rows = run.estimates.rows
    shown = rows[rows["kwetsbare_bewoners"].notna()]
    metadata = {
        "estimates": (
            "reused (same inputs and code)"
            if run.reused
            else "from the cache (same inputs and code)"
            if run.from_cache
            else "computed"
        ),
        "definition": residents.DEFINITION,
        "areas with a count, by kind": dg.MetadataValue.md(
            rows.groupby(["level", "estimate_kind"], dropna=False)
            .size()
            .rename("areas")
            .reset_index()
            .to_markdown(index=False)
        ),
        "vulnerable residents per level (sum of counts)": {
            lvl: int(g["kwetsbare_bewoners"].sum()) for lvl, g in shown.groupby("level")
        },
        "model": run.estimates.fit,
        "90% interval, logit errors per level (out of sample, whole gemeenten held out)": {
            lvl: [round(a, 3), round(b, 3)] for lvl, (a, b) in run.estimates.errors.items()
        },
        "carried drift per year (logit 5%/95%)": {lvl: list(q) for lvl, q in run.drift.items()},
    }
    if run.validation is not None:
        metadata["buurt validation (held-out gemeenten)"] = dg.MetadataValue.md(
            run.validation.round(3).to_markdown(index=False)
        )
    return metadata
