"""The resident-count estimator on tables small enough to compute by hand."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from veerkracht import warehouse
from veerkracht.method import residents


def _area(code, level, parent, inwoners, **figures):
    row = {c: np.nan for c in residents.features(pd.DataFrame(columns=_FIGURES)).columns}
    row.update({f: np.nan for f in _FIGURES})
    row.update(code=code, level=level, parent_code=parent, gemeente_code=None, carried_basis=None)
    row.update(inwoners=inwoners, **figures)
    return row


_FIGURES = [
    "inwoners", "huishoudens", "koop", "corporatie", "woz", "hh_grootte", "eengezins", "n_0_15",
    "n_65plus", "dichtheid", "adressen", "inkomen", "laag_inkomen", "sociaal_minimum", "tot_120_sm",
    "bijstand", "wmo", "jeugdzorg", "carried_laag_inkomen", "carried_sociaal_minimum", "carried_tot_120_sm",
]  # fmt: skip


def test_benchmarking_makes_the_children_add_up_to_their_parent():
    # Wijk W: 10 % of 1,000 inhabitants = 100. Buurt A is published (4 % of 250 = 10) and stays;
    # B, C, D are modelled at 5 %, 10 % and 20 % of 150, 300 and 300 (7.5 + 30 + 60 = 97.5)
    # and share the remaining 90: each is scaled by 90 / 97.5.
    frame = pd.DataFrame(
        [
            _area("W", "wijk", "G", 1000),
            _area("A", "buurt", "W", 250),
            _area("B", "buurt", "W", 150),
            _area("C", "buurt", "W", 300),
            _area("D", "buurt", "W", 300),
        ]
    )
    rate = pd.Series([10.0, 4.0, 5.0, 10.0, 20.0])
    scaled = residents.benchmark(frame, rate, adjust=pd.Index([2, 3, 4]), fixed=pd.Index([1]))
    assert scaled.tolist() == pytest.approx([5 * 90 / 97.5, 10 * 90 / 97.5, 20 * 90 / 97.5])
    counts = scaled / 100 * frame.loc[[2, 3, 4], "inwoners"]
    assert 10 + counts.sum() == pytest.approx(100)
    # A parent the published children already exceed: the modelled ones are left as they were.
    rate_over = pd.Series([10.0, 50.0, 5.0, 10.0, 20.0])
    kept = residents.benchmark(frame, rate_over, adjust=pd.Index([2, 3, 4]), fixed=pd.Index([1]))
    assert kept.tolist() == [5.0, 10.0, 20.0]


def test_nested_groups_widen_the_range_and_are_never_added_up():
    # 1,000 inhabitants; households: 6 % at the social minimum, 10 % low income, 14 % up to
    # 120 % of the social minimum; 50 on bijstand and 80 Wmo clients (counts of other groups).
    frame = pd.DataFrame(
        [
            _area("NL", "land", None, 1000, laag_inkomen=10.0, sociaal_minimum=6.0, tot_120_sm=14.0),
            _area(
                "G", "gemeente", "NL", 1000, laag_inkomen=10.0, sociaal_minimum=6.0, tot_120_sm=14.0,
                bijstand=50.0, wmo=80.0,
            ),
        ]
    )  # fmt: skip
    row = residents.estimate(frame, year=2021, source_year=2021).rows.set_index("code").loc["G"]
    assert row["kwetsbare_bewoners"] == 100  # the headline: low income x inhabitants
    assert (row["kwetsbare_bewoners_min"], row["kwetsbare_bewoners_max"]) == (60, 140)
    assert row["kwetsbare_bewoners_p05"] == row["kwetsbare_bewoners_p95"] == 100  # published
    assert (row["estimate_kind"], row["estimate_vintage"]) == ("published", "2021")
    assert (row["n_bijstand"], row["n_wmo"]) == (50, 80)  # shown beside it, not added in


def test_a_carried_rate_uses_population_weights_and_the_households():
    # 2021 wijken A (1,000 households, 10 % low income) and B (2,000 households, 20 %) became
    # 2024's wijk T: all of A's people and a quarter of B's (weight_pop), though half of B's area.
    # Carried: (1.0 x 1,000 x 10 + 0.25 x 2,000 x 20) / (1,000 + 500) = 13.33 %; area weights
    # would give (1,000 x 10 + 0.5 x 2,000 x 20) / 2,000 = 15 %.
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    con.execute(
        "CREATE TABLE core.dim_region AS SELECT * FROM (VALUES "
        "(2021, 'A', 'wijk', 'G', NULL::VARCHAR, 'g'), (2021, 'B', 'wijk', 'G', NULL, 'g'), "
        "(2024, 'T', 'wijk', 'G', NULL, 'g'), (2024, 'G', 'gemeente', 'G', NULL, 'g')) "
        "t(year, code, level, gemeente_code, wijk_code, geometry_source)"
    )
    con.execute(
        "CREATE TABLE core.fact_indicator AS SELECT * FROM (VALUES "
        "(2021, 'A', 'HuishoudensTotaal', 1000.0), (2021, 'A', 'HuishoudensMetEenLaagInkomen', 10.0), "
        "(2021, 'B', 'HuishoudensTotaal', 2000.0), (2021, 'B', 'HuishoudensMetEenLaagInkomen', 20.0), "
        "(2024, 'T', 'AantalInwoners', 3000.0)) t(year, code, canonical, value)"
    )
    warehouse.ensure_crosswalk_table(con)
    con.execute(
        "INSERT INTO core.crosswalk (from_year, to_year, level, source_code, target_code, weight_area, "
        "weight_pop) VALUES (2021, 2024, 'wijk', 'A', 'T', 1.0, 1.0), "
        "(2021, 2024, 'wijk', 'B', 'T', 0.5, 0.25)"
    )
    rows = warehouse.query(con, "resident_inputs", year=2024, source_year=2021).set_index("code")
    assert rows.loc["T", "carried_laag_inkomen"] == pytest.approx(40 / 3)
    assert rows.loc["T", "carried_basis"] == "crosswalk"


def test_modelled_buurten_add_up_and_their_intervals_hold_them():
    # 12 gemeenten x 3 wijken with published rates that follow the corporation share; their
    # buurten have covariates only. Every buurt is modelled, every wijk's buurten add up to it.
    rng = np.random.default_rng(1)
    rows = [_area("NL", "land", None, 1e6, laag_inkomen=8.0)]
    for g in range(12):
        gm = f"G{g}"
        rows.append(_area(gm, "gemeente", "NL", 9000, laag_inkomen=8.0, corporatie=30.0, koop=55.0))
        for w in range(3):
            wk = f"{gm}W{w}"
            corp = float(rng.uniform(5, 60))
            rate = 100 / (1 + np.exp(-(-3.2 + 0.03 * corp + rng.normal(0, 0.1))))
            rows.append(_area(wk, "wijk", gm, 3000, laag_inkomen=rate, corporatie=corp, koop=85 - corp))
            for b in range(3):
                c = float(np.clip(corp + rng.normal(0, 15), 0, 100))
                rows.append(_area(f"{wk}B{b}", "buurt", wk, 1000, corporatie=c, koop=85 - c))
    frame = pd.DataFrame(rows)
    frame["gemeente_code"] = frame["code"].str.extract(r"^(G\d+)")[0]
    out = residents.estimate(frame, year=2024, source_year=2024).rows.set_index("code")
    buurten = out[out["level"] == "buurt"]
    assert (buurten["estimate_kind"] == "modelled").all()
    assert (buurten["kwetsbare_bewoners_p05"] <= buurten["kwetsbare_bewoners"]).all()
    assert (buurten["kwetsbare_bewoners"] <= buurten["kwetsbare_bewoners_p95"]).all()
    parent = frame.set_index("code").loc[buurten.index, "parent_code"]
    sums = buurten.groupby(parent)["kwetsbare_bewoners"].sum()
    wijken = out.loc[sums.index, "kwetsbare_bewoners"]
    assert (sums - wijken).abs().max() <= 2  # three rounded counts
    # The model learned the direction: buurten with more corporation housing get higher rates.
    corp = frame.set_index("code").loc[buurten.index, "corporatie"]
    assert np.corrcoef(corp, buurten["kwetsbare_bewoners_pct"])[0, 1] > 0.5


def test_the_cache_gives_back_the_rows_fit_and_validation_it_was_given(tmp_path):
    """What the cache keeps of a year's estimates (rows, fit summary, buurt validation) comes back
    exactly: the validation's floats (and its NaN) through the file's JSON metadata."""
    import pyarrow.parquet as pq

    from veerkracht.cache import FileCache

    cache = FileCache(tmp_path / "cache", keep=residents.KEEP_ESTIMATES, verify=pq.read_table)
    rows = pd.DataFrame(
        {
            "code": pd.array(["BU1", "BU2"], dtype="string"),
            "kwetsbare_bewoners": pd.array([120, None], dtype="Int64"),
            "kwetsbare_bewoners_pct": [10.1, np.nan],
            "estimate_kind": pd.array(["modelled", None], dtype="string"),
        }
    )
    validation = pd.DataFrame(
        [
            {
                "method": "model",
                "n": 523,
                "gemeenten": 9,
                "rho": 0.1 + 0.2,
                "mae_pp": 1 / 3,
                "coverage_90": 0.875968992,
            },
            {"method": "wijk_rate", "n": 523, "gemeenten": 9, "rho": 0.7071067811865476, "mae_pp": 2.5},
        ]
    )
    run = residents.YearRun(
        residents.Estimates(
            rows, {"buurt": (-0.7423546825105299, 0.6205747460102852)}, {"ridge alpha": 56.2}
        ),
        validation,
        residents.DRIFT_PER_YEAR,
        None,
    )
    residents._keep_run(cache, "k1", run)
    back = residents._cached_run(cache, "k1")
    assert (
        back.from_cache
        and back.estimates.errors == run.estimates.errors
        and back.estimates.fit == run.estimates.fit
    )
    pd.testing.assert_frame_equal(back.estimates.rows, rows)
    pd.testing.assert_frame_equal(back.validation, validation)
    assert residents._cached_run(cache, "k2") is None  # another key: estimated
