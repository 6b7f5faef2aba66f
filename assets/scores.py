"""Stage 4, scores: the veerkracht score of every gemeente, wijk and buurt (method in sql/)."""

import dagster as dg

from pipelines.partitions import YEARS
from pipelines.resources import DuckDBSpatialResource
from veerkracht import checks, warehouse
from veerkracht.method import DEFAULT_METHOD

from assets.warehouse import check_result, warehouse_core


@dg.asset(partitions_def=YEARS, deps=[warehouse_core], group_name="scores", kinds={"duckdb"},
          pool="duckdb", check_specs=[dg.AssetCheckSpec("scores_in_range", asset="veerkracht_scores",
                                                        blocking=True)])
def veerkracht_scores(context: dg.AssetExecutionContext, duckdb: DuckDBSpatialResource) -> dg.MaterializeResult:
    """Veerkracht score per area: mean national percentile rank of five indicators, or NULL with a reason."""
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
        outcomes = checks.score_checks(con, year)
    return dg.MaterializeResult(check_results=[check_result(o) for o in outcomes], metadata={
        "method_version": method.version,
        "rows": dg.MetadataValue.int(n),
        "components": dg.MetadataValue.int(n_comp),
        **{f"scored {lvl}": dg.MetadataValue.int(s) for lvl, s, _ in by_level},
        **{f"null {lvl}": dg.MetadataValue.int(z) for lvl, _, z in by_level},
        "null_reasons": {r: c for r, c in reasons},
    })
