"""Data-quality checks on the warehouse, as plain results (Dagster turns them into asset checks).

Belongs here: which checks exist, their thresholds and severities, and running the queries in
``sql/checks/`` (each returns the offending rows). Not here: Dagster wiring (assets/).

Severities: ``ERROR`` blocks the downstream assets (bad data must not reach the outputs);
``WARN`` is reported with the offending areas but lets the run continue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from veerkracht.warehouse import SQL_DIR

#: Relative tolerance between a gemeente's area and the summed area of its buurten.
BUURT_COVER_TOLERANCE = 0.05
#: Relative difference allowed between a gemeente's inhabitants and the sum over its buurten.
BUURT_SUM_TOLERANCE = 0.05
#: Year-over-year relative change of a gemeente count that is flagged.
YEAR_JUMP_THRESHOLD = 0.25
#: Absolute fall in an indicator's share of areas with a value that blocks (broken download).
COVERAGE_MAX_DROP = 0.2


@dataclass
class CheckOutcome:
    """One check's verdict with the offending rows (at most 50 are kept for metadata)."""

    name: str
    passed: bool
    severity: str
    description: str
    metadata: dict = field(default_factory=dict)
    offending: pd.DataFrame = field(default_factory=pd.DataFrame)


def query(con: duckdb.DuckDBPyConnection, name: str, **params) -> pd.DataFrame:
    """Offending rows of ``sql/checks/<name>.sql``."""
    return con.execute((SQL_DIR / "checks" / f"{name}.sql").read_text(), params).df()


def _outcome(name: str, rows: pd.DataFrame, severity: str, description: str, **metadata) -> CheckOutcome:
    return CheckOutcome(name, rows.empty, severity, description,
                        {"offending": len(rows), **metadata}, rows.head(50))


def record_availability(con: duckdb.DuckDBPyConnection, year: int) -> None:
    """Append this materialisation's indicator availability to ``core.availability_history``."""
    con.execute("CREATE TABLE IF NOT EXISTS core.availability_history AS "
                "SELECT *, now() AS recorded_at FROM core.indicator_availability LIMIT 0")
    con.execute("INSERT INTO core.availability_history BY NAME "
                "SELECT *, now() AS recorded_at FROM core.indicator_availability WHERE year = ?", [year])


def warehouse_checks(con: duckdb.DuckDBPyConnection, year: int) -> list[CheckOutcome]:
    """Checks of regions, geometry, coverage and continuity for ``year``."""
    y = {"year": int(year)}
    out = [
        _outcome("region_codes", query(con, "region_codes", **y), "ERROR",
                 "Codes unique per level and year, in CBS format; every buurt/wijk has existing parents."),
        _outcome("geometry_valid", query(con, "geometry_errors", **y), "ERROR",
                 "Polygons valid, non-empty, EPSG:28992, inside the Netherlands."),
        _outcome("buurten_cover_gemeente",
                 query(con, "buurt_cover", tolerance=BUURT_COVER_TOLERANCE, **y), "WARN",
                 f"Summed buurt area within {BUURT_COVER_TOLERANCE:.0%} of the gemeente area.",
                 tolerance=BUURT_COVER_TOLERANCE),
        _outcome("coverage_no_sharp_drop",
                 query(con, "coverage_drop", max_drop=COVERAGE_MAX_DROP, **y), "ERROR",
                 f"No indicator lost more than {COVERAGE_MAX_DROP:.0%} of its areas with a value "
                 "since the previous materialisation.", max_drop=COVERAGE_MAX_DROP),
        _outcome("percentages_in_range", query(con, "percent_range", **y), "ERROR",
                 "Values with unit % lie in 0..100 (no counts published as percentages)."),
        _outcome("buurt_sums_match_gemeente",
                 query(con, "buurt_sums", tolerance=BUURT_SUM_TOLERANCE, **y), "WARN",
                 f"Inhabitants summed over buurten within {BUURT_SUM_TOLERANCE:.0%} of the gemeente figure.",
                 tolerance=BUURT_SUM_TOLERANCE),
    ]
    years = [r[0] for r in con.execute("SELECT DISTINCT year FROM core.fact_indicator ORDER BY 1").fetchall()]
    jumps = query(con, "year_jumps", threshold=YEAR_JUMP_THRESHOLD, **y)
    out.append(_outcome("year_over_year_continuity", jumps, "WARN",
                        f"Gemeente and national counts change by at most {YEAR_JUMP_THRESHOLD:.0%} "
                        "from the previous year.", threshold=YEAR_JUMP_THRESHOLD,
                        compared_with=max((v for v in years if v < year), default=None) or "no earlier year"))
    not_published = con.execute(
        "SELECT level, canonical FROM core.indicator_availability WHERE year = ? AND status = 'not_published' "
        "ORDER BY level, canonical", [year]).df()
    out.append(_outcome("indicators_published", not_published, "WARN",
                        "Every indicator has at least one value per level (else: not published yet).",
                        not_published_per_level=not_published.groupby("level").size().to_dict()))
    return out


def score_checks(con: duckdb.DuckDBPyConnection, year: int) -> list[CheckOutcome]:
    """Scores in [0, 1], each with a score or a reason (never both, never neither); the share of
    NULL scores per level and reason is reported."""
    rows = query(con, "score_sanity", year=int(year))
    bad = rows[(rows["out_of_range"] > 0) | (rows["score_reason_mismatch"] > 0)]
    nulls = rows[rows["reason"].notna()]
    areas = rows.groupby("level")["areas"].sum()
    shares = {f"{r.level}: {r.reason}": round(float(r.n_null / areas[r.level]), 4) for r in nulls.itertuples()}
    return [_outcome("scores_in_range", bad, "ERROR", "Every score lies in [0, 1] and has a value or a NULL reason, not both.",
                     null_share_by_reason=shares)]
