"""The veerkracht method: score one year in the warehouse as the spec says.

Belongs here: the order in which the ``sql/score_*.sql`` models run, the spec's tables in the
warehouse (``core.method_*``), choosing the goalpost year, and the Monte Carlo and diagnostics
that run on the models' output. The formulas live in the SQL files and the choices in the spec
(``methods/*.toml``, :mod:`veerkracht.spec`); docs/methodology.md explains both.

Models, in order (each one table, rebuilt per year):

``score_value``            spec indicators per area: value, shrunk value, oriented, NULL reason
``score_indicator_status`` per level: published or not (unpublished ones leave their theme)
``score_indicator``        percentile ranks and goalposts of eligible areas
``score_theme``            theme scores and completeness
``score_axis``             kwetsbaarheid and druk: value, national rank, reason, SVI flags
``score``                  one row per area: both axes, bivariate class, reasons
``score_explanation``      the top contributing indicators per area
``score_change``           change since the latest earlier scored year (class K±D±)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from veerkracht import warehouse
from veerkracht.method.spec import MethodSpec
from veerkracht.method.uncertainty import OUTPUT_COLUMNS, simulate

MODELS = [
    ("core.score_value", "score_value"),
    ("core.score_indicator_status", "score_indicator_status"),
    ("core.score_indicator", "score_indicator"),
    ("core.score_theme", "score_theme"),
    ("core.score_axis", "score_axis"),
    ("core.score", "score"),
    ("core.score_explanation", "score_explanation"),
    ("core.score_change", "score_change"),
]
#: How many contributing indicators are stored per area.
TOP_N = 3


@dataclass(frozen=True)
class ScoreRun:
    """What scoring one year produced (row counts per table, the goalpost year used)."""

    year: int
    rows: dict[str, int]
    goalpost_year: int
    intervals: pd.DataFrame


def register_spec(con: duckdb.DuckDBPyConnection, spec: MethodSpec) -> None:
    """Write the spec's themes and indicators (and its full text) to ``core.method_*``."""
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    text = Path(spec.path).read_text() if spec.path else ""
    tables = {
        "core.method_spec": pd.DataFrame(
            [
                {
                    "spec_hash": spec.spec_hash,
                    "sha256": spec.sha256,
                    "name": spec.name,
                    "version": spec.version,
                    "path": spec.path,
                    "spec_toml": text,
                }
            ]
        ),
        "core.method_theme": spec.theme_table(),
        "core.method_indicator": spec.indicator_table(),
    }
    with warehouse.transaction(con):
        for table, frame in tables.items():
            con.register("spec_rows", frame)
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM spec_rows LIMIT 0")
            con.execute(f"DELETE FROM {table} WHERE spec_hash = ?", [spec.spec_hash])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM spec_rows")
            con.unregister("spec_rows")


def goalpost_year(con: duckdb.DuckDBPyConnection, spec: MethodSpec, year: int) -> int:
    """The spec's base year when its values are in the warehouse, else ``year`` itself.

    Goalposts are only comparable across years when they come from one base year; a year scored
    before its base year gets its own bounds, and ``core.score_indicator.goalpost_year`` says so.
    """
    base = spec.goalpost_base_year
    if base == year:
        return year
    n = con.execute(
        "SELECT count(*) FROM core.score_value WHERE year = ? AND spec_hash = ?", [base, spec.spec_hash]
    ).fetchone()[0]
    return base if n else year


def score_year(
    con: duckdb.DuckDBPyConnection, spec: MethodSpec, year: int, with_uncertainty: bool = True
) -> ScoreRun:
    """Build every ``core.score*`` table of ``year`` with ``spec``, then the Monte Carlo."""
    register_spec(con, spec)
    warehouse.ensure_crosswalk_table(con)  # score_change reads it, whether or not a crosswalk ran
    params = {**spec.sql_params(), "top_n": TOP_N}
    rows: dict[str, int] = {}
    gp_year = year
    for table, model in MODELS:
        if table == "core.score_indicator":
            gp_year = goalpost_year(con, spec, year)
        rows[table] = warehouse.build_model(con, table, model, year, goalpost_year=gp_year, **params)
    intervals = pd.DataFrame()
    if with_uncertainty:
        intervals = store_uncertainty(con, spec, year)
        rows["core.score_uncertainty"] = len(intervals)
    return ScoreRun(year, rows, gp_year, intervals)


def store_uncertainty(con: duckdb.DuckDBPyConnection, spec: MethodSpec, year: int) -> pd.DataFrame:
    """Compute the Monte Carlo intervals of ``year`` and replace them in ``core.score_uncertainty``."""
    intervals = uncertainty_intervals(con, spec, year)
    mc = spec.uncertainty
    warehouse.replace_year(
        con,
        "core.score_uncertainty",
        year,
        f"SELECT *, {mc.runs} AS mc_runs, {mc.seed} AS mc_seed, "
        f"'{spec.spec_hash}' AS spec_hash FROM intervals",
        intervals=intervals,
    )
    return intervals


def uncertainty_intervals(con: duckdb.DuckDBPyConnection, spec: MethodSpec, year: int) -> pd.DataFrame:
    """Monte Carlo rank intervals of the kwetsbaarheid axis, per level (see uncertainty.py), from the
    indicator components of ``sql/mc_components.sql``."""
    comp = con.execute(
        warehouse.model_sql("mc_components"), {"year": int(year), "spec_hash": spec.spec_hash}
    ).df()
    frames = [simulate(g, spec).assign(level=level) for level, g in comp.groupby("level", sort=True)]
    return (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*OUTPUT_COLUMNS, "level"])
    )
