"""Method v3's newest published figure of every indicator (sql/fact_carried.sql), by hand."""

import duckdb
import pytest

from veerkracht import warehouse


@pytest.fixture()
def con():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    # 2021 wijken A and B became 2024's wijk T (crosswalk: all of A's people, a quarter of B's);
    # wijk S kept its code (no crosswalk of 2022 -> 2024): by code. 2024 publishes T's and S's
    # inhabitants and T's low-income share, nothing else.
    con.execute(
        "CREATE TABLE core.dim_region AS SELECT * FROM (VALUES "
        "(2021, 'A', 'wijk', NULL::VARCHAR), (2021, 'B', 'wijk', NULL), (2022, 'S', 'wijk', NULL), "
        "(2021, 'S', 'wijk', NULL), (2024, 'T', 'wijk', NULL), (2024, 'S', 'wijk', NULL)) "
        "t(year, code, level, geometry_source)"
    )
    con.execute(
        "CREATE TABLE core.fact_indicator AS SELECT * FROM (VALUES "
        "(2021, 'A', 'AantalInwoners', 1000.0, 'aantal'), (2021, 'A', 'Bijstand', 50.0, 'aantal'), "
        "(2021, 'A', 'LaagInkomen', 10.0, '%'), "
        "(2021, 'B', 'AantalInwoners', 4000.0, 'aantal'), (2021, 'B', 'Bijstand', 400.0, 'aantal'), "
        "(2021, 'B', 'LaagInkomen', 20.0, '%'), "
        "(2021, 'S', 'AantalInwoners', 500.0, 'aantal'), (2021, 'S', 'LaagInkomen', 7.0, '%'), "
        "(2022, 'S', 'AantalInwoners', 600.0, 'aantal'), (2022, 'S', 'LaagInkomen', 9.0, '%'), "
        "(2024, 'T', 'AantalInwoners', 3000.0, 'aantal'), (2024, 'T', 'LaagInkomen', 12.0, '%'), "
        "(2024, 'S', 'AantalInwoners', 800.0, 'aantal')) t(year, code, canonical, value, unit)"
    )
    warehouse.ensure_crosswalk_table(con)
    con.execute(
        "INSERT INTO core.crosswalk (from_year, to_year, level, source_code, target_code, weight_area, "
        "weight_pop, unchanged) VALUES (2021, 2024, 'wijk', 'A', 'T', 1.0, 1.0, false), "
        "(2021, 2024, 'wijk', 'B', 'T', 0.5, 0.25, false)"
    )
    return con


def _carried(con, max_age=3):
    # A pass of 2024 alone (sql/fact_carried.sql reads the years of the pass from $run).
    run = [{"year": 2024, "goalpost_year": 2024, "partial": False, "coverage": "national"}]
    rows = warehouse.query(con, "fact_carried", run=run, carry_max_age=max_age)
    return {(r.code, r.canonical): (r.value, r.vintage, r.basis) for r in rows.itertuples()}


def test_counts_travel_as_rates_per_inhabitant_and_shares_by_people(con):
    got = _carried(con)
    # Bijstand of T: (1.0 x 50 + 0.25 x 400) / (1.0 x 1,000 + 0.25 x 4,000) = 150 / 2,000 per
    # inhabitant, times T's 3,000 inhabitants of 2024 = 225 (not the 150 of 2021's people).
    assert got[("T", "Bijstand")][0] == pytest.approx(225.0)
    assert got[("T", "Bijstand")][1:] == (2021, "crosswalk")
    # T publishes its own low-income share in 2024: nothing carried over it.
    assert ("T", "LaagInkomen") not in got


def test_the_newest_vintage_wins_and_age_is_bounded(con):
    got = _carried(con)
    # S: 2022's 9 % (newer than 2021's 7 %), by code.
    assert got[("S", "LaagInkomen")] == (9.0, 2022, "same_code")
    # At most two years old: 2021's figures are too old, 2022's are not.
    young = _carried(con, max_age=2)
    assert ("T", "Bijstand") not in young and young[("S", "LaagInkomen")][1] == 2022
    assert _carried(con, max_age=0) == {}  # v1 and v2 carry nothing
