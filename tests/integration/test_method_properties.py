"""Hypothesis properties of the method's SQL on generated tiny tables (the tiny spec of
tests/fixtures/tiny_method.toml): monotone in a "higher is worse" indicator, independent of row
order, scores in [0, 1]. Here rather than in tests/unit because each example scores a table twice
through all eight models (tens of seconds in all)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_method import COLUMNS, NATIONAL, TINY, WIJK, load_tables

from veerkracht import warehouse
from veerkracht.method import scoring
from veerkracht.method.spec import load_spec

_value = st.one_of(st.none(), st.integers(1, 500).map(float))
_area = st.tuples(
    st.integers(200, 5000).map(float), _value, _value, st.integers(1, 500).map(float), _value, _value, _value
)


@pytest.fixture(scope="module")
def scratch():
    con = warehouse.connect()
    yield con
    con.close()


def _scores(con, areas: dict, order: list[int] | None = None) -> dict:
    load_tables(con, areas, order)
    scoring.score_year(con, load_spec(TINY), 2024, with_uncertainty=False, coverage_as=NATIONAL)
    return {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT code, score, druk, kwetsbaarheid_value FROM core.score WHERE level = 'buurt'"
        ).fetchall()
    }


#: An area with every indicator published and enough inhabitants: always scored.
_full_area = st.tuples(st.integers(200, 5000).map(float), *[st.integers(1, 500).map(float)] * 6)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    others=st.lists(_area, min_size=2, max_size=7),
    chosen=_full_area,
    where=st.integers(0, 7),
    bump=st.integers(1, 400),
)
def test_raising_a_vulnerability_indicator_never_lowers_the_score(scratch, others, chosen, where, bump):
    """Every example reaches the comparison: the chosen area has all its indicators, so it is
    scored (an unscored one fails the test instead of passing it silently)."""
    rows = list(others)
    rows.insert(where % (len(rows) + 1), chosen)
    table = {f"BU000101{i:02d}": a for i, a in enumerate(rows)}
    code = f"BU000101{where % len(rows):02d}"
    before = _scores(scratch, table)
    assert before[code][0] is not None, "the fully published area must be scored"
    raised = dict(table)
    raised[code] = (table[code][0], table[code][1] + bump, *table[code][2:])  # X1: higher = worse
    after = _scores(scratch, raised)
    assert after[code][0] >= before[code][0]
    assert after[code][2] >= before[code][2] - 1e-9


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(areas=st.lists(_area, min_size=2, max_size=8), seed=st.randoms(use_true_random=False))
def test_scores_do_not_depend_on_row_order_and_lie_in_0_1(scratch, areas, seed):
    table = {f"BU000101{i:02d}": a for i, a in enumerate(areas)}
    n_rows = len(table) * len(COLUMNS) + len(WIJK[1])
    order = list(range(n_rows))
    seed.shuffle(order)
    plain, shuffled = _scores(scratch, table), _scores(scratch, table, order)
    assert plain == shuffled
    assert all(0 <= v <= 1 for row in plain.values() for v in row if v is not None)
