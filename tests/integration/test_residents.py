"""Resident counts on the full embedded run (README's first command): every area counted or
NULL with a reason, buurten adding up to their wijk, the buurt model beating its baselines on
gemeenten it never saw, and the carried figures' drift re-measured from the warehouse."""

import shutil

import numpy as np
import pandas as pd
import pytest

from veerkracht import warehouse
from veerkracht.method import residents
from veerkracht.paths import EMBEDDED_DIR


@pytest.fixture(scope="module")
def areas(years_run):
    """The resident columns of every marts.area row of the full run."""
    return (
        years_run[2]
        .execute(
            "SELECT year, code, level, wijk_code, gemeente_code, inwoners, kwetsbare_bewoners, "
            "kwetsbare_bewoners_p05, kwetsbare_bewoners_p95, estimate_kind, estimate_vintage, "
            "kwetsbare_bewoners_null_reason FROM marts.area"
        )
        .df()
    )


def test_every_area_with_200_inhabitants_has_a_count_its_kind_and_vintage(areas):
    rows = areas
    big = rows[rows["inwoners"] >= residents.MIN_INHABITANTS]
    assert big["kwetsbare_bewoners"].notna().all()
    assert big["estimate_kind"].isin(["published", "carried", "modelled"]).all()
    assert big["estimate_vintage"].notna().all()
    small = rows[~(rows["inwoners"] >= residents.MIN_INHABITANTS)]
    assert small["kwetsbare_bewoners"].isna().all() and small["kwetsbare_bewoners_null_reason"].notna().all()
    counted = rows.dropna(subset=["kwetsbare_bewoners"])
    assert (counted["kwetsbare_bewoners_p05"] <= counted["kwetsbare_bewoners"]).all()
    assert (counted["kwetsbare_bewoners"] <= counted["kwetsbare_bewoners_p95"]).all()
    assert (counted["kwetsbare_bewoners"] <= counted["inwoners"]).all()
    kinds = counted.groupby(["year", "level"])["estimate_kind"].agg(lambda k: set(k))
    # The year and level people read: 2024 buurten, modelled where KWB 2021 has no buurt figure.
    assert kinds[(2024, "buurt")] == {"carried", "modelled"}
    assert kinds[(2021, "gemeente")] == {"published"}
    assert (counted.query("year == 2024 and level == 'buurt'")["estimate_kind"] == "modelled").sum() > 10_000


def test_buurten_add_up_to_their_wijk_and_no_wijk_exceeds_its_gemeente(areas):
    for year in (2023, 2024):
        b = areas[(areas["year"] == year) & (areas["level"] == "buurt") & (areas["inwoners"] > 0)]
        per_wijk = b.groupby("wijk_code").agg(
            total=("kwetsbare_bewoners", "sum"), n=("kwetsbare_bewoners", "count"), all_counted=(
                "kwetsbare_bewoners", lambda s: s.notna().all()),
        )  # fmt: skip
        w = areas[(areas["year"] == year) & (areas["level"] == "wijk")]
        w = w.set_index("code")["kwetsbare_bewoners"]
        both = per_wijk.join(w.rename("wijk"), how="inner").dropna(subset=["wijk"])
        assert len(both) > (3000 if year == 2024 else 9)
        slack = 0.5 * both["n"] + 1  # each count is rounded
        assert (both["total"] <= both["wijk"] + slack).all(), both[both["total"] > both["wijk"] + slack]
        full = both[both["all_counted"]]  # no buurt hidden under 200 inhabitants: equal
        assert ((full["total"] - full["wijk"]).abs() <= 0.5 * full["n"] + 1).all()
        assert len(full) > (1500 if year == 2024 else 5)
    wijken = areas[areas["level"] == "wijk"].merge(
        areas[areas["level"] == "gemeente"][["year", "code", "kwetsbare_bewoners"]],
        left_on=["year", "gemeente_code"], right_on=["year", "code"], suffixes=("", "_gemeente"),
    )  # fmt: skip
    assert (wijken["kwetsbare_bewoners"] <= wijken["kwetsbare_bewoners_gemeente"]).all()


def test_the_buurt_model_beats_both_baselines_on_gemeenten_it_never_saw(years_run):
    v = years_run[2].execute("SELECT * FROM core.resident_validation WHERE year = 2024").df()
    v = v.set_index("method")
    model, wijk, corp = v.loc["model"], v.loc["wijk_rate"], v.loc["corporation_only"]
    assert model["gemeenten"] == 9 and model["n"] > 500
    assert model["rho"] > wijk["rho"] and model["mae_pp"] < wijk["mae_pp"]
    assert model["rho"] > corp["rho"] and model["mae_pp"] < corp["mae_pp"]
    same = v.loc[[m for m in v.index if m.endswith("(buurten all three estimate)")]]
    assert same["rho"].idxmax().startswith("model") and same["mae_pp"].idxmin().startswith("model")
    assert 0.85 <= model["coverage_90"] <= 0.95


def test_the_estimates_and_buurt_validation_are_the_same_without_helper_processes(years_run):
    """README's command made the estimates and half the held-out refits in a helper process
    (veerkracht/helpers.py; on a machine of two or more cores); all of them in one process give
    the same counts and the same validation table, to the last bit."""
    con = years_run[2]
    stored = con.execute("SELECT * EXCLUDE (year) FROM core.resident_validation WHERE year = 2024").df()
    frame = warehouse.query(con, "resident_inputs", year=2024, source_year=residents.SOURCE_YEAR)
    rate = residents.load_buurt_truth(EMBEDDED_DIR).set_index("code")["laag_inkomen"]
    alone = residents.validate_buurten(frame, rate, year=2024, source_year=residents.SOURCE_YEAR)
    pd.testing.assert_frame_equal(alone, stored, check_exact=True, check_dtype=False)
    counts = con.execute(
        "SELECT * EXCLUDE (year) FROM core.vulnerable_residents WHERE year = 2024 ORDER BY code"
    ).df()
    here = residents.estimate(
        frame,
        year=2024,
        source_year=residents.SOURCE_YEAR,
        buurt_truth=rate,
        drift_per_year=residents.DRIFT_PER_YEAR,
    ).rows
    assert len(here) == len(counts) > 10_000
    pd.testing.assert_frame_equal(
        here.sort_values("code", ignore_index=True), counts[here.columns], check_exact=True, check_dtype=False
    )


def test_the_carried_drift_is_what_the_warehouse_measures(years_run):
    con = years_run[2]
    truth = residents.load_buurt_truth(EMBEDDED_DIR).set_index("code")
    now = (
        con.execute(
            "SELECT code, level, "
            "max(value) FILTER (WHERE canonical = 'PersonenPerSoortUitkeringBijstand') AS b, "
            "max(value) FILTER (WHERE canonical = 'AantalInwoners') AS i "
            "FROM core.fact_indicator JOIN core.dim_region USING (year, code) WHERE year = 2023 GROUP BY ALL"
        )
        .df()
        .set_index("code")
    )
    then = (
        con.execute(
            "SELECT code, max(value) FILTER (WHERE canonical = 'PersonenPerSoortUitkeringBijstand') AS b, "
            "max(value) FILTER (WHERE canonical = 'AantalInwoners') AS i "
            "FROM core.fact_indicator WHERE year = 2021 AND code LIKE 'WK0344%' GROUP BY ALL"
        )
        .df()
        .set_index("code")
    )
    b = now[now["level"] == "buurt"].join(truth, how="inner")
    b = b[(b["b"] >= 30) & (b["bijstand"] >= 30)]
    assert len(b) == 77
    got = residents.drift_quantiles(100 * b["bijstand"] / b["inwoners"], 100 * b["b"] / b["i"], 2)
    assert got == pytest.approx(residents.DRIFT_PER_YEAR["buurt"], abs=0.001)
    w = now[now["level"] == "wijk"].join(then, rsuffix="_2021", how="inner")
    assert len(w) == 10
    got = residents.drift_quantiles(100 * w["b_2021"] / w["i_2021"], 100 * w["b"] / w["i"], 2)
    assert got == pytest.approx(residents.DRIFT_PER_YEAR["wijk"], abs=0.001)


def test_the_shortlist_says_how_many_residents_its_areas_hold(years_run):
    layout = years_run[0]
    rows = pd.read_csv(layout.layers / "2024" / "shortlist_buurt_2024.csv")
    top = rows[rows["status"].str.startswith("top_decile")]
    assert top["kwetsbare_bewoners"].notna().mean() > 0.9
    per_gemeente = top.groupby("gemeente_name")["kwetsbare_bewoners"].sum()
    got = top.groupby("gemeente_name")["gemeente_kwetsbare_bewoners_top"].first()
    assert np.allclose(per_gemeente, got.loc[per_gemeente.index])


def test_estimates_are_kept_only_for_the_inputs_and_code_they_were_made_from(years_run, tmp_path):
    """A year's stored estimates are kept when its inputs and the code are those they were made
    from (a run of another year), and are the same numbers as estimating again; new code, a
    changed input, or a key lost with a stopped run estimate the year again."""
    from assets.versions import CODE_VERSION
    from veerkracht import warehouse

    db = tmp_path / "build.duckdb"
    shutil.copy(years_run[0].build_db, db)
    truth = residents.load_buurt_truth(EMBEDDED_DIR)

    def stored(con, year):
        return con.execute(f"SELECT * FROM core.vulnerable_residents WHERE year = {year} ORDER BY code").df()

    def run(con, year, code=CODE_VERSION):
        return residents.estimate_year(con, year, truth, code=code)

    with warehouse.connection(db) as con:
        national = stored(con, 2024)
        kept = run(con, 2024)  # the national year with its held-out buurt validation
        assert kept.reused and kept.validation is not None and len(kept.validation) >= 3
        pd.testing.assert_frame_equal(stored(con, 2024), national)
        before = stored(con, 2023)
        again = run(con, 2023, code="another code version")
        assert not again.reused
        pd.testing.assert_frame_equal(stored(con, 2023), before)  # the kept numbers are the estimate's
        assert run(con, 2023, code="another code version").reused
        con.execute(
            "UPDATE core.fact_indicator SET value = value + 500 WHERE year = 2023 "
            "AND canonical = 'AantalInwoners' AND code = (SELECT min(code) FROM core.dim_region "
            "WHERE year = 2023 AND level = 'buurt')"
        )
        assert not run(con, 2023, code="another code version").reused
        con.execute("DELETE FROM core.resident_input WHERE year = 2023")  # as a stopped run leaves it
        assert not run(con, 2023, code="another code version").reused


def test_another_output_folder_takes_the_estimates_from_the_cache(years_run, tmp_path):
    """A folder that never estimated a year (no stored key), with a cache another folder filled:
    the first estimate is kept; the next, on the same inputs with the same code, is copied: the
    same rows and fit summary as estimating, and it says so. (KWB 2021: a real year that estimates
    in well under a second; the buurt validation's way through the cache is in the unit tests.)"""
    import pyarrow.parquet as pq

    from assets.versions import CODE_VERSION
    from veerkracht import warehouse
    from veerkracht.cache import FileCache

    cache = FileCache(tmp_path / "cache", keep=residents.KEEP_ESTIMATES, verify=pq.read_table)
    truth = residents.load_buurt_truth(EMBEDDED_DIR)
    tables = {"core.vulnerable_residents": "code", "core.resident_input": "key"}
    db = tmp_path / "build.duckdb"
    shutil.copy(years_run[0].build_db, db)
    got = []
    with warehouse.connection(db, spatial=False) as con:
        for _ in range(2):
            con.execute("DELETE FROM core.resident_input")  # as in a folder that never estimated
            run = residents.estimate_year(con, 2021, truth, code=CODE_VERSION, cache=cache)
            rows = {
                t: con.execute(f"SELECT * FROM {t} WHERE year = 2021 ORDER BY {k}").df()
                for t, k in tables.items()
            }
            got.append((run, rows))
    (first, made), (second, copied) = got
    assert not first.from_cache and not first.reused and len(made["core.vulnerable_residents"]) > 3000
    assert second.from_cache and second.estimates.errors == first.estimates.errors
    for table in tables:
        pd.testing.assert_frame_equal(copied[table], made[table])
