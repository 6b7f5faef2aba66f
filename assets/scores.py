"""Stage 4, scores: the veerkracht method of the spec file (sql/score_*.sql) with Monte Carlo intervals,
every year in one pass."""

import dagster as dg

from assets.checks import check_result, check_specs
from assets.crosswalk import boundary_crosswalk
from assets.partitions import per_year
from assets.resources import DuckDBSpatialResource, PipelineSettings
from assets.versions import CODE_VERSION, method_spec
from assets.warehouse import warehouse_core
from veerkracht import checks, warehouse


@dg.asset(
    code_version=CODE_VERSION,
    deps=[warehouse_core, boundary_crosswalk, method_spec],
    group_name="scores",
    kinds={"duckdb"},
    pool="duckdb",
    check_specs=check_specs("scores", "veerkracht_scores"),
)
def veerkracht_scores(
    context: dg.AssetExecutionContext, settings: PipelineSettings, build_db: DuckDBSpatialResource
) -> dg.MaterializeResult:
    """Kwetsbaarheid and druk per area of every year in the build warehouse, as the method spec
    says, with rank intervals and explanations.

    One pass over all years: a year's goalposts come from the base year, its carried figures
    (method v3) from the years before it and its change classes from the earlier years' scores,
    so every year is scored again when any year's statistics change.
    """
    from veerkracht.method import scoring

    spec = settings.method
    metadata: dict = {"method": spec.label, "spec_hash": spec.spec_hash, "spec_file": spec.path}
    with build_db.get_connection(spatial=False) as con:
        years = warehouse.built_years(con)
        if not years:
            raise RuntimeError("No statistics in the build warehouse: materialise warehouse_core first")
        runs = scoring.score_years(con, spec, years)
        per = {run.year: _year_metadata(con, spec, run) for run in runs}
        outcomes = checks.run_stage_years(con, "scores", years)
    for run in runs:
        if run.goalpost_year != spec.goalpost_base_year:
            context.log.warning(
                f"KWB {run.year}: goalposts from {run.goalpost_year}: base year {spec.goalpost_base_year} "
                "is not in the build warehouse, so goalpost scores are not comparable across years"
            )
    return dg.MaterializeResult(
        check_results=[check_result(o) for o in outcomes],
        metadata={**metadata, "years": years, **per_year(per)},
    )


def _year_metadata(con, spec, run) -> dict:
    """One year's metadata from its :class:`veerkracht.method.scoring.ScoreRun`."""
    from veerkracht.method import diagnostics

    year = run.year
    by_level = list(warehouse.query(con, "report/scored_per_level", year=year).itertuples(index=False))
    reasons = warehouse.query(con, "report/null_reasons", year=year).itertuples(index=False)
    diag = diagnostics.indicator_diagnostics(con, year, spec.spec_hash)
    iv = run.intervals
    not_published = diag["coverage"].query("status == 'not_published'")
    return {
        "goalpost_year": run.goalpost_year,
        **{f"rows {t}": dg.MetadataValue.int(n) for t, n in run.rows.items()},
        **{f"scored {lvl}": f"kwetsbaarheid {k}, druk {d}, NULL {z}" for lvl, k, d, z in by_level},
        **{f"kwetsbaarheid scored {lvl}": dg.MetadataValue.int(int(k)) for lvl, k, _, _ in by_level},
        "null_reasons": {r: int(c) for r, c in reasons},
        "indicators not published (left out of their theme)": dg.MetadataValue.md(
            not_published[["level", "indicator", "main_null_reason"]].to_markdown(index=False)
        ),
        "indicator coverage": dg.MetadataValue.md(diag["coverage"].to_markdown(index=False)),
        "correlations within themes (|r| > 0.9 flagged)": dg.MetadataValue.md(
            diag["correlation"].to_markdown(index=False)
        ),
        "skew and kurtosis (raw, after clipping at goalposts)": dg.MetadataValue.md(
            diag["distribution"].to_markdown(index=False)
        ),
        "coverage": run.coverage,
        "change since earlier years (class not NULL / areas)": _change_summary(con_rows=run.change),
        "monte_carlo": (
            f"{spec.uncertainty.runs} runs, seed {spec.uncertainty.seed}"
            if len(iv)
            else "not run: partial coverage (ranks among a few areas are not national ranks)"
        ),
        **(_interval_metadata(iv) if len(iv) else {}),
    }


def _interval_metadata(iv) -> dict:
    return {
        "uncertain share (rank interval crosses a class boundary)": {
            lvl: round(float(g["uncertain"].mean()), 3) for lvl, g in iv.groupby("level")
        },
        "median 5-95% rank interval width": {
            lvl: round(float((g["rank_p95"] - g["rank_p05"]).median()), 3) for lvl, g in iv.groupby("level")
        },
    }


def _change_summary(con_rows) -> dict:
    return {f"{r.level} since {r.base_year}": f"{r.classed} / {r.areas}" for r in con_rows.itertuples()}
