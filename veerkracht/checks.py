"""Data-quality checks on the warehouse, as data: one :class:`Check` row per check.

Belongs here: which checks exist (:data:`CHECKS`: name, stage, SQL file under ``sql/checks/``,
severity, thresholds, description) and running them; each query returns the offending rows.
The Dagster asset checks are built from the same rows (``assets/checks.py``), so a check is
added in one place: a row here and its SQL file.

Severities: ``ERROR`` blocks the downstream assets (bad data must not reach the outputs);
``WARN`` is reported with the offending areas but lets the run continue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from veerkracht.paths import SQL_DIR

if TYPE_CHECKING:  # the code location reads the check list; the checks' runs import them
    import duckdb
    import pandas as pd

#: Stages whose asset runs the checks: the warehouse build, the scoring and the resident counts.
STAGES = ("warehouse", "scores", "residents")


@dataclass
class CheckOutcome:
    """One check's verdict with the offending rows (at most 50 are kept for metadata)."""

    name: str
    passed: bool
    severity: str
    description: str
    metadata: dict = field(default_factory=dict)
    offending: pd.DataFrame = field(default_factory=lambda: _empty())


def _empty() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame()


Summary = Callable[["duckdb.DuckDBPyConnection", int, "pd.DataFrame"], tuple["pd.DataFrame", dict]]


@dataclass(frozen=True)
class Check:
    """One data-quality check: ``sql/checks/<sql>.sql`` run with ``$year`` and ``params``
    (``description`` may name the params, ``{tolerance:.0%}``)."""

    name: str
    stage: str
    sql: str
    severity: str
    description: str
    params: dict = field(default_factory=dict)
    #: Optional: (offending rows, extra metadata) from the query's rows, for checks whose query
    #: returns a summary rather than offending rows.
    summarise: Summary | None = None

    @property
    def text(self) -> str:
        """The description with its thresholds filled in."""
        return self.description.format(**self.params)

    @property
    def blocking(self) -> bool:
        """ERROR checks block the assets downstream; WARN checks report."""
        return self.severity == "ERROR"


def _compared_with(
    con: duckdb.DuckDBPyConnection, year: int, rows: pd.DataFrame
) -> tuple[pd.DataFrame, dict]:
    earlier = con.execute("SELECT max(year) FROM core.fact_indicator WHERE year < ?", [year]).fetchone()[0]
    return rows, {"compared_with": earlier or "no earlier year"}


def _per_level(con: duckdb.DuckDBPyConnection, year: int, rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    return rows, {"not_published_per_level": rows.groupby("level").size().to_dict()}


def _score_sanity(con: duckdb.DuckDBPyConnection, year: int, rows: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    bad = rows[(rows["out_of_range"] > 0) | (rows["score_reason_mismatch"] > 0)]
    nulls = rows[rows["reason"].notna()]
    areas = rows.groupby("level")["areas"].sum()
    shares = {
        f"{r.level}: {r.reason}": round(float(r.n_null / areas[r.level]), 4) for r in nulls.itertuples()
    }
    return bad, {"null_share_by_reason": shares}


CHECKS: tuple[Check, ...] = (
    Check(
        "region_codes",
        "warehouse",
        "region_codes",
        "ERROR",
        "Codes unique per level and year, in CBS format; every buurt/wijk has existing parents.",
    ),
    Check(
        "geometry_valid",
        "warehouse",
        "geometry_errors",
        "ERROR",
        "Polygons valid, non-empty, EPSG:28992, inside the Netherlands.",
    ),
    Check(
        "buurten_cover_gemeente",
        "warehouse",
        "buurt_cover",
        "WARN",
        "Summed buurt area within {tolerance:.0%} of the gemeente area.",
        {"tolerance": 0.05},
    ),
    Check(
        "coverage_no_sharp_drop",
        "warehouse",
        "coverage_drop",
        "ERROR",
        "No indicator lost more than {max_drop:.0%} of its areas with a value since the previous "
        "materialisation.",
        {"max_drop": 0.2},
    ),
    Check(
        "percentages_in_range",
        "warehouse",
        "percent_range",
        "ERROR",
        "Values with unit % lie in 0..100 (no counts published as percentages).",
    ),
    Check(
        "buurt_sums_match_gemeente",
        "warehouse",
        "buurt_sums",
        "WARN",
        "Inhabitants summed over buurten within {tolerance:.0%} of the gemeente figure.",
        {"tolerance": 0.05},
    ),
    Check(
        "year_over_year_continuity",
        "warehouse",
        "year_jumps",
        "WARN",
        "Gemeente and national counts change by at most {threshold:.0%} from the previous year.",
        {"threshold": 0.25},
        _compared_with,
    ),
    Check(
        "resident_counts_consistent",
        "residents",
        "resident_counts",
        "ERROR",
        "Estimated vulnerable residents: no wijk above its gemeente, no area's children adding up "
        "to more than the area (beyond rounding, {rounding} per child, and {published_slack:.0%} "
        "of published children), every interval around its estimate, no count above the inhabitants.",
        {"rounding": 0.5, "published_slack": 0.03},
    ),
    Check(
        "indicators_published",
        "warehouse",
        "indicators_published",
        "WARN",
        "Every indicator has at least one value per level (else: not published yet).",
        summarise=_per_level,
    ),
    Check(
        "scores_in_range",
        "scores",
        "score_sanity",
        "ERROR",
        "Every score lies in [0, 1] and has a value or a NULL reason, not both.",
        summarise=_score_sanity,
    ),
)


def get(name: str) -> Check:
    """The check called ``name``."""
    for check in CHECKS:
        if check.name == name:
            return check
    raise KeyError(f"No check {name!r}; checks: {', '.join(c.name for c in CHECKS)}")


def for_stage(stage: str) -> tuple[Check, ...]:
    """The checks the asset of ``stage`` runs, in order."""
    if stage not in STAGES:
        raise ValueError(f"Unknown stage {stage!r}; one of {', '.join(STAGES)}")
    return tuple(c for c in CHECKS if c.stage == stage)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def query(con: duckdb.DuckDBPyConnection, name: str, **params) -> pd.DataFrame:
    """Rows of ``sql/checks/<name>.sql``."""
    return con.execute((SQL_DIR / "checks" / f"{name}.sql").read_text(), params).df()


def run(con: duckdb.DuckDBPyConnection, check: Check, year: int) -> CheckOutcome:
    """Run one check for ``year``."""
    rows = query(con, check.sql, year=int(year), **check.params)
    metadata: dict = dict(check.params)
    if check.summarise is not None:
        rows, extra = check.summarise(con, int(year), rows)
        metadata.update(extra)
    return CheckOutcome(
        check.name,
        rows.empty,
        check.severity,
        check.text,
        {"offending": len(rows), **metadata},
        rows.head(50),
    )


def run_stage(con: duckdb.DuckDBPyConnection, stage: str, year: int) -> list[CheckOutcome]:
    """Every check of ``stage`` for ``year``."""
    return [run(con, c, year) for c in for_stage(stage)]


def record_availability(con: duckdb.DuckDBPyConnection, year: int) -> None:
    """Append this materialisation's indicator availability to ``core.availability_history``
    (what ``coverage_no_sharp_drop`` compares the next materialisation with)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS core.availability_history AS "
        "SELECT *, now() AS recorded_at FROM core.indicator_availability LIMIT 0"
    )
    con.execute(
        "INSERT INTO core.availability_history BY NAME "
        "SELECT *, now() AS recorded_at FROM core.indicator_availability WHERE year = ?",
        [year],
    )


def run_stage_years(con: duckdb.DuckDBPyConnection, stage: str, years: list[int]) -> list[CheckOutcome]:
    """Every check of ``stage`` over ``years``, one outcome per check: it passes when it passes in
    every year; metadata and offending rows say which year (a step over all years reports each
    check once)."""
    per_year = {year: run_stage(con, stage, year) for year in years}
    if len(per_year) == 1:
        return next(iter(per_year.values()))
    merged = []
    for i, check in enumerate(for_stage(stage)):
        outcomes = {year: got[i] for year, got in per_year.items()}
        failed = [year for year, o in outcomes.items() if not o.passed]
        offending = [o.offending.assign(year=year) for year, o in outcomes.items() if not o.offending.empty]
        merged.append(
            CheckOutcome(
                name=check.name,
                passed=not failed,
                severity=check.severity,
                description=check.text + (f" Fails in {', '.join(map(str, failed))}." if failed else ""),
                metadata={f"{year} {k}": v for year, o in outcomes.items() for k, v in o.metadata.items()},
                offending=_concat(offending).head(50) if offending else _empty(),
            )
        )
    return merged
