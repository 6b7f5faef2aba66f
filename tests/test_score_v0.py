"""The v0 score SQL on a tiny hand-made table, against values computed by hand."""

from __future__ import annotations

import pytest

from veerkracht import warehouse
from veerkracht.method import DEFAULT_METHOD

# code, inwoners, koopwoningen %, WOZ (x1000), income (x1000), 65+ count, 1-person hh, households
AREAS = [
    ("BU00010001", 1000, 20, 200, 20, 300, 200, 400),
    ("BU00010002", 1000, 40, 300, 30, 200, None, 400),
    ("BU00010003", 1000, 40, 400, None, 100, None, 400),
    ("BU00010004", 1000, 80, 500, 50, 100, None, None),
    ("BU00010005", 150, 10, 100, 10, 90, 100, 60),      # too small: not scored, not ranked
    ("BU00010006", None, 10, 100, 10, 90, 100, 60),     # no population figure
]
COLUMNS = ["AantalInwoners", "Koopwoningen", "GemiddeldeWOZWaardeVanWoningen",
           "GemiddeldInkomenPerInwoner", "k_65JaarOfOuder", "Eenpersoonshuishoudens", "HuishoudensTotaal"]


@pytest.fixture()
def scored():
    con = warehouse.connect()
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE TABLE core.dim_region AS SELECT 2024 AS year, code, 'buurt' AS level "
                "FROM (VALUES " + ",".join(f"('{a[0]}')" for a in AREAS) + ") t(code)")
    rows = [(a[0], c, v) for a in AREAS for c, v in zip(COLUMNS, a[1:])]
    con.execute("CREATE TABLE core.fact_indicator (year INT, code VARCHAR, canonical VARCHAR, "
                "value DOUBLE, null_reason VARCHAR)")
    con.executemany("INSERT INTO core.fact_indicator VALUES (2024, ?, ?, ?, CASE WHEN ? IS NULL "
                    "THEN 'empty' END)", [(c, k, v, v) for c, k, v in rows])
    m = DEFAULT_METHOD
    warehouse.build_model(con, "core.score_component", "score_v0_components", 2024,
                          min_population=m.min_population)
    warehouse.build_model(con, "core.score", "score_v0", 2024, **m.params())
    yield con
    con.close()


def test_percentile_ranks_with_ties(scored):
    ranks = dict(scored.execute("SELECT code, percentile_rank FROM core.score_component "
                                "WHERE indicator = 'huurwoningen_pct'").fetchall())
    # rented % = 80, 60, 60, 20 -> oriented ranks over N = 4: 1, 1/3, 1/3 (tie: lowest rank), 0
    assert ranks == pytest.approx({"BU00010001": 1.0, "BU00010002": 1 / 3, "BU00010003": 1 / 3,
                                   "BU00010004": 0.0})
    woz = dict(scored.execute("SELECT code, percentile_rank FROM core.score_component "
                              "WHERE indicator = 'woz_x1000'").fetchall())
    assert woz == pytest.approx({"BU00010001": 1.0, "BU00010002": 2 / 3, "BU00010003": 1 / 3,
                                 "BU00010004": 0.0})  # lower WOZ = more vulnerable


def test_scores_and_reasons(scored):
    got = {c: (s, n, r) for c, s, n, r in scored.execute(
        "SELECT code, score, n_indicators, score_null_reason FROM core.score").fetchall()}
    # BU..01: huur 1, woz 1, income 1 (lowest of 20/30/50), 65+ 1 (highest of 30/20/10/10 %),
    # single-person share 0: it is the only area with that component, and N = 1 gives rank 0.
    assert got["BU00010001"][0] == pytest.approx((1 + 1 + 1 + 1 + 0) / 5)
    # BU..02: huur 1/3, woz 2/3, income 1/2, 65+ 2/3 (20% of 30/20/10/10) -> mean of 4
    assert got["BU00010002"][0] == pytest.approx((1 / 3 + 2 / 3 + 0.5 + 2 / 3) / 4)
    # BU..03: huur 1/3, woz 1/3, 65+ 0 (10% ties with 04 at the lowest rank) -> 3 components
    assert got["BU00010003"][0] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert got["BU00010004"][:2] == (pytest.approx((0 + 0 + 0 + 0) / 4), 4)
    assert got["BU00010005"] == (None, 0, "fewer_than_200_inhabitants")
    assert got["BU00010006"] == (None, 0, "no_population_figure (empty)")


def test_too_few_indicators(scored):
    scored.execute("DELETE FROM core.fact_indicator WHERE code = 'BU00010003' "
                   "AND canonical IN ('Koopwoningen', 'GemiddeldeWOZWaardeVanWoningen')")
    m = DEFAULT_METHOD
    warehouse.build_model(scored, "core.score_component", "score_v0_components", 2024,
                          min_population=m.min_population)
    warehouse.build_model(scored, "core.score", "score_v0", 2024, **m.params())
    row = scored.execute("SELECT score, score_null_reason FROM core.score WHERE code = 'BU00010003'").fetchone()
    assert row == (None, "too_few_indicators (1 of 5, need 3)")
