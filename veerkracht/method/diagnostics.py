"""Diagnostics of the method's indicators for one year (reported as asset metadata).

Belongs here: coverage per indicator, correlations within themes (a pair above ``|r| > 0.9``
double-counts one phenomenon), and skewness/kurtosis before and after the goalposts' outlier
rule (clipping at the base year's quantiles). COINr and the JRC handbook treat an indicator as
outlier-prone when |skew| > 2 and kurtosis > 3.5; we report both, per level.
"""

from __future__ import annotations

import itertools

import duckdb
import pandas as pd

from veerkracht import warehouse

#: Correlation above which two indicators of one theme are flagged.
MAX_ABS_R = 0.9


def indicator_diagnostics(
    con: duckdb.DuckDBPyConnection, year: int, spec_hash: str
) -> dict[str, pd.DataFrame]:
    """``coverage``, ``correlation`` (flagged pairs first) and ``distribution`` tables."""
    coverage = warehouse.query(con, "report/diagnostics_coverage", year=year, spec_hash=spec_hash)
    values = warehouse.query(con, "report/diagnostics_values", year=year, spec_hash=spec_hash)
    corr_rows, dist_rows = [], []
    for (level, theme), group in values.groupby(["level", "theme"]):
        wide = group.pivot(index="code", columns="indicator", values="oriented")
        for a, b in itertools.combinations(sorted(wide.columns), 2):
            pair = wide[[a, b]].dropna()
            if len(pair) > 2:
                r = float(pair[a].corr(pair[b]))
                corr_rows.append(
                    {
                        "level": level,
                        "theme": theme,
                        "pair": f"{a} ~ {b}",
                        "n": len(pair),
                        "r": round(r, 3),
                        "flag": abs(r) > MAX_ABS_R,
                    }
                )
    for (level, indicator), group in values.groupby(["level", "indicator"]):
        raw, clipped = group["oriented"], group["goalpost"]
        dist_rows.append(
            {
                "level": level,
                "indicator": indicator,
                "n": len(group),
                "skew": round(float(raw.skew()), 2),
                "kurtosis": round(float(raw.kurt()), 2),
                "outlier_prone": bool(abs(raw.skew()) > 2 and raw.kurt() > 3.5),
                "skew_clipped": round(float(clipped.skew()), 2),
                "kurtosis_clipped": round(float(clipped.kurt()), 2),
            }
        )
    correlation = pd.DataFrame(corr_rows, columns=["level", "theme", "pair", "n", "r", "flag"])
    return {
        "coverage": coverage,
        "correlation": correlation.sort_values(
            ["flag", "level", "pair"], ascending=[False, True, True], ignore_index=True
        ),
        "distribution": pd.DataFrame(dist_rows),
    }
