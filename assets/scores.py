"""Stage 4, scores: the veerkracht score of every gemeente, wijk and buurt (method in sql/)."""

import dagster as dg
import pandas as pd

from pipelines.partitions import YEARS
from pipelines.resources import DuckDBSpatialResource
from veerkracht import checks, warehouse
from veerkracht.method import DEFAULT_METHOD
from veerkracht.uncertainty import MonteCarlo, simulate

from assets.warehouse import check_result, warehouse_core


@dg.asset(partitions_def=YEARS, deps=[warehouse_core], group_name="scores", kinds={"duckdb"},
          pool="duckdb", check_specs=[dg.AssetCheckSpec("scores_in_range", asset="veerkracht_scores",
                                                        blocking=True)])
def veerkracht_scores(context: dg.AssetExecutionContext, duckdb: DuckDBSpatialResource) -> dg.MaterializeResult:
    """Veerkracht score per area (mean national percentile rank of five indicators) with Monte Carlo rank intervals."""
    year = int(context.partition_key)
    method = DEFAULT_METHOD
    with duckdb.get_connection() as con:
        n_comp = warehouse.build_model(con, "core.score_component", f"{method.sql_model}_components",
                                       year, min_population=method.min_population)
        n = warehouse.build_model(con, "core.score", method.sql_model, year, **method.params())
        by_level = con.execute(
            "SELECT level, count(score), count(*) - count(score) FROM core.score WHERE year = ? "
            "GROUP BY level ORDER BY level", [year]).fetchall()
        reasons = con.execute(
            "SELECT regexp_extract(score_null_reason, '^[a-z_0-9]+'), count(*) FROM core.score "
            "WHERE year = ? AND score IS NULL GROUP BY 1 ORDER BY 2 DESC", [year]).fetchall()
        comp = con.execute("SELECT code, level, indicator, oriented, percentile_rank FROM core.score_component "
                            "WHERE year = ?", [year]).df()
        mc = MonteCarlo()
        intervals = pd.concat([simulate(g, mc, method.min_indicators).assign(level=level)
                               for level, g in comp.groupby("level")], ignore_index=True)
        warehouse.replace_year(con, "core.score_uncertainty", year,
                               f"SELECT *, {mc.runs} AS mc_runs, {mc.seed} AS mc_seed FROM intervals",
                               intervals=intervals)
        outcomes = checks.score_checks(con, year)
    return dg.MaterializeResult(check_results=[check_result(o) for o in outcomes], metadata={
        "method_version": method.version,
        "rows": dg.MetadataValue.int(n),
        "components": dg.MetadataValue.int(n_comp),
        **{f"scored {lvl}": dg.MetadataValue.int(s) for lvl, s, _ in by_level},
        **{f"null {lvl}": dg.MetadataValue.int(z) for lvl, _, z in by_level},
        "null_reasons": {r: c for r, c in reasons},
        "monte_carlo": f"{mc.runs} runs, seed {mc.seed}",
        "uncertain share (rank interval crosses a class boundary)": {
            lvl: round(float(g["uncertain"].mean()), 3) for lvl, g in intervals.groupby("level")},
        "median 5-95% rank interval width": {
            lvl: round(float((g["rank_p95"] - g["rank_p05"]).median()), 3) for lvl, g in intervals.groupby("level")},
    })
