"""Diagnostics of the method's indicators for one year (reported as asset metadata).

Belongs here: coverage per indicator, correlations within themes (a pair above ``|r| > 0.9``
double-counts one phenomenon), and skewness/kurtosis before and after the goalposts' outlier
rule (clipping at the base year's quantiles). COINr and the JRC handbook treat an indicator as
outlier-prone when |skew| > 2 and kurtosis > 3.5; we report both, per level.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from veerkracht import warehouse

#: Correlation above which two indicators of one theme are flagged.
MAX_ABS_R = 0.9


def indicator_diagnostics(
    con: duckdb.DuckDBPyConnection, year: int, spec_hash: str
) -> dict[str, pd.DataFrame]:
    """``coverage``, ``correlation`` (flagged pairs first) and ``distribution`` tables, each one
    query (sql/report/diagnostics_*.sql: DuckDB's corr, skewness and kurtosis over the year's
    rows, instead of a pandas pivot per theme: 0.46 -> 0.14 s for the embedded years)."""
    params = {"year": year, "spec_hash": spec_hash}
    return {
        "coverage": warehouse.query(con, "report/diagnostics_coverage", **params),
        "correlation": warehouse.query(con, "report/diagnostics_correlation", **params, max_abs_r=MAX_ABS_R),
        "distribution": warehouse.query(con, "report/diagnostics_distribution", **params),
    }
