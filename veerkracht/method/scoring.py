"""The veerkracht method: score one year in the warehouse as the spec says.

Belongs here: the order in which the ``sql/score_*.sql`` models run, the spec's tables in the
warehouse (``core.method_*``), choosing the goalpost year, and the Monte Carlo and diagnostics
that run on the models' output. The formulas live in the SQL files and the choices in the spec
(``methods/*.toml``, :mod:`veerkracht.spec`); docs/methodology.md explains both.

Models, in order (each one table, rebuilt for all years of a pass in one statement):

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

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from veerkracht import warehouse
from veerkracht.method.spec import MethodSpec
from veerkracht.method.uncertainty import OUTPUT_COLUMNS, simulate
from veerkracht.registry import KWB_TABLES, year_info

MODELS = [
    # Method v3: the newest earlier figure of every indicator the year lacks (empty for v1/v2).
    ("core.fact_carried", "fact_carried"),
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
    coverage: str = "national"
    #: Per level and earlier year: areas compared and how many got a change class.
    change: pd.DataFrame = field(default_factory=pd.DataFrame)


#: Statistics with fewer than this share of the year's gemeenten are partial (a user's own file of
#: one city, Utrecht 2023 in the embedded snapshot); the dertje copy's 171 of 342 are completed
#: by the 2026 vintage before this is asked.
NATIONAL_SHARE = 0.95


def coverage(con: duckdb.DuckDBPyConnection, year: int) -> str:
    """'national', or 'partial: N of M gemeenten (…)' when the year's statistics cover fewer than
    :data:`NATIONAL_SHARE` of the gemeenten of its indeling (registry ``gemeenten``)."""
    expected = year_info(year).gemeenten if year in KWB_TABLES else None
    n = con.execute(
        "SELECT count(*) FROM core.dim_region WHERE year = ? AND level = 'gemeente'", [year]
    ).fetchone()[0]
    if not expected or n >= NATIONAL_SHARE * expected:
        return "national"
    names = con.execute(
        "SELECT string_agg(name, ', ' ORDER BY name) FROM core.dim_region "
        "WHERE year = ? AND level = 'gemeente'",
        [year],
    ).fetchone()[0]
    listed = names if n <= 5 else f"{n} gemeenten"
    return f"partial: {n} of {expected} gemeenten ({listed}); ranked on the national goalposts"


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


def goalpost_year(con: duckdb.DuckDBPyConnection, spec: MethodSpec, year: int, **params) -> int:
    """The spec's base year when its values are in the warehouse, else ``year`` itself.

    Goalposts are only comparable across years when they come from one base year. When the base
    year's statistics are in the warehouse but it has not been scored yet, its models up to the
    axes are built here (its values give the goalposts, its axes the national distribution a
    partial year is ranked in), so years can be scored in any order once the base year's
    statistics are loaded; a year scored before even that gets its own bounds, and
    ``core.score_indicator.goalpost_year`` says so. (:func:`score_years` asks this only for a
    pass without the base year: with it, the pass builds the base year's models itself.)
    """
    base = spec.goalpost_base_year
    if base == year:
        return year
    try:
        n = con.execute(
            "SELECT count(*) FROM core.score_value WHERE year = ? AND spec_hash = ?", [base, spec.spec_hash]
        ).fetchone()[0]
    except duckdb.CatalogException:  # nothing scored in this warehouse yet
        n = 0
    if n:
        return base
    loaded = con.execute("SELECT count(*) FROM core.dim_region WHERE year = ?", [base]).fetchone()[0]
    if not loaded:
        return year
    build_goalposts(con, base, **params)
    return base


def build_goalposts(con: duckdb.DuckDBPyConnection, base: int, **params) -> dict[str, int]:
    """Build the base year's models up to the axes: its values give every year's goalposts, its
    axes the national distribution a partial year is ranked in. Returns their row counts."""
    run = [{"year": base, "goalpost_year": base, "partial": False, "coverage": coverage(con, base)}]
    return {
        table: warehouse.build_model_years(con, table, model, run, **params)[base]
        for table, model in MODELS[: [t for t, _ in MODELS].index("core.score_axis") + 1]
    }


def score_years(
    con: duckdb.DuckDBPyConnection,
    spec: MethodSpec,
    years: list[int],
    with_uncertainty: bool = True,
    coverage_as: str | None = None,
) -> list[ScoreRun]:
    """Score every year of ``years`` in one pass, the same whichever years were loaded last.

    Each model runs once over all the years (``sql/score_*.sql`` take the years and their
    parameters as ``$run``), in order, so every model of every year reads the previous models of
    all years: the base year's values give every year's goalposts, its axes the national
    distribution a partial year is ranked in, and each year's change classes compare with the
    earlier years scored from the statistics now in the warehouse. Then the Monte Carlo per year.

    ``coverage_as``: what the statistics cover ('national' or 'partial: …'), for every year; by
    default judged per year from the gemeenten in the warehouse (:func:`coverage`).
    """
    years = sorted(set(years))
    params = {**spec.sql_params(), "top_n": TOP_N}
    # One transaction: every year's scores are committed together or not at all (a failed or
    # killed step leaves the scores of one spec and one set of statistics, never a mix), and one
    # commit instead of one per model.
    with warehouse.transaction(con):
        register_spec(con, spec)
        warehouse.ensure_crosswalk_table(con)  # score_change reads it, whether or not a crosswalk ran
        run = [_year_parameters(con, spec, year, years, coverage_as, params) for year in years]
        rows = {
            table: warehouse.build_model_years(con, table, model, run, **params) for table, model in MODELS
        }
        return [
            _finish_year(con, spec, r, {t: n[r["year"]] for t, n in rows.items()}, with_uncertainty)
            for r in run
        ]


def score_year(
    con: duckdb.DuckDBPyConnection,
    spec: MethodSpec,
    year: int,
    with_uncertainty: bool = True,
    coverage_as: str | None = None,
) -> ScoreRun:
    """:func:`score_years` of one year."""
    return score_years(con, spec, [year], with_uncertainty, coverage_as)[0]


def _year_parameters(
    con: duckdb.DuckDBPyConnection, spec: MethodSpec, year: int, years: list[int], coverage_as, params
) -> dict:
    """``year``'s entry of a pass over ``years``: its goalpost base year, whether its statistics
    cover part of the country, and what they cover (the text every row of it carries)."""
    cover = coverage_as or coverage(con, year)
    base = spec.goalpost_base_year
    gp_year = base if base in years else goalpost_year(con, spec, year, **params)
    if cover != "national" and gp_year == year:
        # No national base year in the warehouse (a city's own file of the base year itself):
        # ranks among the file's own areas, and every row says so.
        cover = cover.replace(
            "ranked on the national goalposts",
            f"ranked among its own areas (no national {base} in the warehouse)",
        )
        partial = False
    else:
        partial = cover != "national"
    return {"year": int(year), "goalpost_year": int(gp_year), "partial": partial, "coverage": cover}


def _finish_year(
    con: duckdb.DuckDBPyConnection, spec: MethodSpec, run: dict, rows: dict[str, int], with_uncertainty: bool
) -> ScoreRun:
    """The Monte Carlo of one scored year of a pass (national years), and what it produced."""
    year, cover = run["year"], run["coverage"]
    intervals = pd.DataFrame()
    # Rank intervals of a partial year would be ranks among its own few areas: not computed.
    if with_uncertainty and cover == "national":
        intervals = store_uncertainty(con, spec, year)
        rows["core.score_uncertainty"] = len(intervals)
    elif cover != "national":
        clear_uncertainty(con, year)
    change = warehouse.query(con, "report/change_per_level", year=year)
    return ScoreRun(year, rows, run["goalpost_year"], intervals, cover, change)


def clear_uncertainty(con: duckdb.DuckDBPyConnection, year: int) -> None:
    """Drop ``year``'s intervals (a year rescored as partial must not keep older ones); the
    table exists afterwards either way, as ``marts.area`` reads it."""
    empty = pd.DataFrame(
        {
            "code": pd.Series(dtype="string"),
            **{c: pd.Series(dtype="float64") for c in ("rank_p05", "rank_p50", "rank_p95", "p_top10")},
            "uncertain": pd.Series(dtype="boolean"),
            "level": pd.Series(dtype="string"),
        }
    )
    warehouse.replace_year(
        con,
        "core.score_uncertainty",
        year,
        "SELECT *, 0 AS mc_runs, 0 AS mc_seed, '' AS spec_hash FROM intervals",
        intervals=empty,
    )


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
    comp = warehouse.query(con, "mc_components", year=int(year), spec_hash=spec.spec_hash)
    frames = [simulate(g, spec).assign(level=level) for level, g in comp.groupby("level", sort=True)]
    return (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*OUTPUT_COLUMNS, "level"])
    )
