"""The validation measures on tiny tables computed by hand, and the fixed halves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from veerkracht.ingest.kwbfile import read_table
from veerkracht.method import validation as v
from veerkracht.paths import EMBEDDED_DIR, VALIDATION_DIR


def test_spearman_by_hand():
    # Ranks 1 2 3 4 against 1 3 2 4: d = 0 1 1 0, rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert v.spearman(np.array([1, 2, 3, 4.0]), np.array([10, 30, 20, 40.0])) == pytest.approx(0.8)
    assert v.spearman(np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert np.isnan(v.spearman(np.arange(5.0), np.ones(5)))


def test_capture_by_hand():
    # 20 areas; the criterion's worst decile = the 2 highest criterion values (areas 0 and 1).
    crit = np.array([20.0, 19] + list(range(18)))
    score = np.zeros(20)
    score[0], score[5] = 1.0, 0.9  # the score's top decile: areas 0 and 5
    weight = np.ones(20)
    weight[0], weight[1] = 300.0, 100.0
    # Area 0 (300 inhabitants) of the worst decile (400) is in the top decile: 0.75.
    assert v.capture(score, crit, weight, 0.1) == pytest.approx(0.75)
    score[1] = 0.8  # top quintile = 4 areas: 0, 5, 1 and one more
    assert v.capture(score, crit, weight, 0.2) == pytest.approx(1.0)


def test_direction_orients_the_criterion():
    x = np.arange(40.0)
    income = -np.arange(40.0)  # lower income = more vulnerable: direction -1
    m = v.measure(x, income, -1, np.ones(40))
    assert m.rho == pytest.approx(1.0) and m.capture_top10 == pytest.approx(1.0)
    assert m.rho_lo == pytest.approx(1.0) and m.n == 40
    assert np.isnan(v.measure(x[:10], income[:10], -1, np.ones(10)).rho)  # fewer than MIN_AREAS


def test_bootstrap_interval_holds_the_estimate():
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    lo, hi = v.bootstrap_rho(x, y)
    assert lo < v.spearman(x, y) < hi and hi - lo < 0.2
    assert v.bootstrap_rho(x, y) == (lo, hi)  # fixed seed: the same interval every run


def _bootstrap_by_definition(x, y, runs=v.BOOTSTRAP, seed=v.SEED):
    """The interval as defined: gather each resample's rank pairs, centre, correlate."""
    idx = np.random.default_rng(seed).integers(0, len(x), size=(runs, len(x)))
    a = pd.Series(x).rank().to_numpy()[idx]
    b = pd.Series(y).rank().to_numpy()[idx]
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    rho = (a * b).sum(axis=1) / np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    return tuple(np.nanpercentile(rho, [2.5, 97.5]))


def test_bootstrap_from_counts_equals_the_definition():
    """Issue 17: resamples as counts (one matrix product) give the interval the gathered
    resamples give, on the real KWB 2021 income figures of the embedded gemeenten (ties too)."""
    rows = read_table(EMBEDDED_DIR / "kwb_files" / "kwb-2021.csv")
    gm = rows[rows["recs"] == "Gemeente"]
    income = pd.to_numeric(gm["g_ink_pi"].str.replace(",", "."), errors="coerce")
    low = pd.to_numeric(gm["p_ink_li"].str.replace(",", "."), errors="coerce")
    ok = income.notna() & low.notna()
    x, y = income[ok].to_numpy(), low[ok].to_numpy()
    assert len(x) > 300
    for n in (30, 157, len(x)):
        assert v.bootstrap_rho(x[:n], y[:n]) == pytest.approx(
            _bootstrap_by_definition(x[:n], y[:n]), abs=1e-12
        )


def test_validate_matches_by_code_per_half():
    codes = [f"WK{g:04d}{w:02d}" for g in (14, 34) for w in range(40)]
    gm = [f"GM{c[2:6]}" for c in codes]
    subj = pd.DataFrame(
        {
            "year": 2024,
            "code": codes,
            "level": "wijk",
            "gemeente_code": gm,
            "inwoners": 1000.0,
            "kind": "score",
            "subject": "kwetsbaarheid",
            "value": np.arange(80.0),
        }
    )
    crit = pd.DataFrame(
        {
            "code": codes[:60] + ["WK999901"],  # 60 match; one code unknown to the scores
            "year": 2017,
            "level": "wijk",
            "criterion": "c",
            "value": list(np.arange(60.0)) + [5.0],
            "direction": 1,
            "source": "t",
        }
    )
    res = v.validate(subj, crit).set_index("half")
    assert res.at["all", "n"] == 60 and res.at["all", "rho"] == pytest.approx(1.0)
    # GM0014 is in the report half, GM0034 in the decide half (SHA-256 of the code).
    assert (v.half("GM0014"), v.half("GM0034")) == ("report", "decide")
    assert res.at["report", "n"] == 40 and res.at["decide", "n"] == 20
    assert not res["same_year"].any()


def test_halves_split_the_gemeenten_about_evenly():
    rows = read_table(EMBEDDED_DIR / "kwb_files" / "kwb-2021.csv")
    gms = rows.loc[rows["recs"] == "Gemeente", "gwb_code_10"].str.strip()
    share = np.mean([v.half(g) == "decide" for g in gms])
    assert 0.4 < share < 0.6


def test_shipped_criteria_read_and_bad_files_are_refused(tmp_path):
    crit = v.load_criteria([VALIDATION_DIR])
    assert set(crit["criterion"]) >= {"scp_perc_jhzv", "scp_perc_hhbijs", "scp_gem_gestink"}
    assert set(crit["direction"]) == {1, -1} and set(crit["level"]) == {"wijk"}
    bad = tmp_path / "bad.csv"
    bad.write_text("code,year,level,criterion,value\nWK000100,2017,wijk,x,1\n")
    with pytest.raises(v.CriterionError, match="missing column"):
        v.read_criteria(bad)
    bad.write_text("code,year,level,criterion,value,direction\nWK000100,2017,wijk,x,1,2\n")
    with pytest.raises(v.CriterionError, match="direction must be 1 or -1"):
        v.read_criteria(bad)


def _two_theme_subjects(a, b, year=2024):
    """Subjects of 40 wijken of GM0034 (decide half): headline = mean of themes a and b."""
    codes = [f"WK0034{w:02d}" for w in range(len(a))]
    rows = []
    for kind, subject, value in [
        ("score", "kwetsbaarheid", (a + b) / 2),
        ("theme", "a", a),
        ("theme", "b", b),
    ]:
        rows.append(
            pd.DataFrame(
                {
                    "year": year,
                    "code": codes,
                    "level": "wijk",
                    "gemeente_code": "GM0034",
                    "inwoners": 1000.0,
                    "kind": kind,
                    "subject": subject,
                    "value": value,
                }
            )
        )
    return pd.concat(rows, ignore_index=True), codes


def _criterion(codes, name, value, year=2017, source="t"):
    return pd.DataFrame(
        {
            "code": codes,
            "year": year,
            "level": "wijk",
            "criterion": name,
            "value": value,
            "direction": 1,
            "source": source,
        }
    )


def test_frontier_no_weighting_beats_two_specialists():
    a = np.arange(40.0)
    b = (np.arange(40) * 7 % 40).astype(float)  # a permutation of a: rho(a, b) is far from 1
    subj, codes = _two_theme_subjects(a, b)
    crit = pd.concat(
        [
            _criterion(codes, "like_a", a),  # theme a predicts it perfectly (rho 1)
            _criterion(codes, "like_b", b),  # theme b predicts it perfectly (rho 1)
            # A year's own KWB figures are never its criterion: left out, as in validate().
            _criterion(codes, "own_kwb", a + b, year=2024, source="KWB 2024"),
        ]
    )
    front = v.theme_frontier(subj, crit, "decide")
    # 11 weight vectors (0, 1), (0.1, 0.9) ... (1, 0), each against two criteria.
    assert len(front) == 11 and set(front["criteria"]) == {2}
    pure_a = front.set_index("weights").loc["1, 0"]
    assert pure_a["at_least_best_theme"] == 1
    assert pure_a["worst_gap"] == pytest.approx(v.spearman(a, b) - 1.0)
    summary = v.frontier_summary(front)
    assert len(summary) == 1 and summary.at[0, "at_least_best_theme"] == 1
    assert not summary.at[0, "any_weighting_meets_all"]
    # The report half has no area of GM0034: nothing to measure.
    assert v.theme_frontier(subj, crit, "report").empty


def test_frontier_finds_the_weighting_that_meets_a_criterion_of_both_themes():
    a = np.arange(40.0)
    b = (np.arange(40) * 7 % 40).astype(float)
    subj, codes = _two_theme_subjects(a, b)
    crit = _criterion(codes, "sum", a + b)
    front = v.theme_frontier(subj, crit, "decide")
    summary = v.frontier_summary(front)
    # Drawn apart per half (score_validation and its helper process), the same summary as in one
    # pass over both (here the report half has no areas: its rows are empty).
    apart = v.frontier_summary(front, v.theme_frontier(subj, crit, "report"))
    assert apart.equals(v.frontier_summary(v.theme_frontier(subj, crit, v.HALVES))) and apart.equals(summary)
    # Only the equal weighting ranks the areas exactly as a + b does.
    assert summary.at[0, "weights"] == "0.5, 0.5" and summary.at[0, "mean_rho"] == pytest.approx(1.0)
    assert summary.at[0, "any_weighting_meets_all"]
    # Theme b alone is the best theme (rho 0.761 against a's 0.751): every mix of the two does at
    # least as well as b, a alone does not.
    missed = front[front["at_least_best_theme"] == 0]["weights"].tolist()
    assert missed == ["1, 0"]


def test_match_through_a_crosswalk_by_hand():
    crit = _criterion(["WK01", "WK02", "WK03"], "c", [10.0, 20.0, np.nan], year=2021)
    cw = pd.DataFrame(
        [
            # 2024 wijk WK09 = 60 % of WK01 + 40 % of WK02 (a merger): 0.6 * 10 + 0.4 * 20 = 14
            (2021, 2024, "wijk", "WK01", "WK09", 60.0, False),
            (2021, 2024, "wijk", "WK02", "WK09", 40.0, False),
            # WK08 is half WK02, half WK03 (no value): only 50 % covered, so no value at all
            (2021, 2024, "wijk", "WK02", "WK08", 50.0, False),
            (2021, 2024, "wijk", "WK03", "WK08", 50.0, False),
            # WK01 kept its code and its polygon
            (2021, 2024, "wijk", "WK01", "WK01", 100.0, False),
        ],
        columns=v.CROSSWALK_COLUMNS,
    )
    got = v.match(crit, 2024, "wijk", cw).set_index("code")
    assert got["criterion_value"].to_dict() == pytest.approx({"WK09": 14.0, "WK01": 10.0})
    assert got["via_crosswalk"].to_dict() == {"WK09": True, "WK01": False}
    # No crosswalk onto 2022: by code, except a code whose 2021 boundary is known to differ
    # (WK02, from dim_region) or that the crosswalk of its era marks as changed (WK02, WK03).
    changed = pd.DataFrame({"year": [2021], "code": ["WK02"]})
    by_code = v.match(crit, 2022, "wijk", cw.assign(unchanged=cw["source_code"] == "WK01"), changed)
    assert by_code.set_index("code")["criterion_value"].to_dict() == {"WK01": 10.0}
    assert by_code.attrs["dropped"] == {"name_changed": 0, "boundary_changed": 2}
    assert v.match(crit, 2022, "wijk").set_index("code")["criterion_value"].to_dict() == {
        "WK01": 10.0,
        "WK02": 20.0,
    }


def test_validate_counts_areas_matched_only_through_the_crosswalk():
    codes24 = [f"WK0034{w:02d}" for w in range(40)]
    subj = pd.DataFrame(
        {
            "year": 2024,
            "code": codes24,
            "level": "wijk",
            "gemeente_code": "GM0034",
            "inwoners": 1000.0,
            "kind": "score",
            "subject": "kwetsbaarheid",
            "value": np.arange(40.0),
        }
    )
    # 2021: the same codes for the first 30; the last 10 were renamed (WK0099xx) in 2024.
    codes21 = codes24[:30] + [f"WK0099{w:02d}" for w in range(30, 40)]
    crit = _criterion(codes21, "c", np.arange(40.0), year=2021)
    cw = pd.DataFrame(
        {
            "from_year": 2021,
            "to_year": 2024,
            "level": "wijk",
            "source_code": codes21,
            "target_code": codes24,
            "overlap_m2": 1.0,
            "unchanged": [a == b for a, b in zip(codes21, codes24, strict=True)],
        }
    )
    by_code = v.validate(subj, crit).set_index("half")
    assert by_code.at["all", "n"] == 30 and by_code.at["all", "n_crosswalk"] == 0
    through = v.validate(subj, crit, v.Matching(crosswalk=cw)).set_index("half")
    assert through.at["all", "n"] == 40 and through.at["all", "n_crosswalk"] == 10
    assert through.at["all", "rho"] == pytest.approx(1.0)


def test_frontier_with_nothing_to_compare_is_empty_and_reported(tmp_path):
    """A city's own file: too few matched areas for any criterion. The frontier is empty, its
    summary keeps its columns, and the report says so instead of failing."""
    from veerkracht.publish.validation_report import write_report

    a = np.arange(10.0)
    subj, codes = _two_theme_subjects(a, a[::-1])
    crit = _criterion(codes, "c", a)
    summary = v.frontier_summary(v.theme_frontier(subj, crit, "decide"))
    assert summary.empty and "any_weighting_meets_all" in summary
    res = v.validate(subj, crit)
    paths = write_report(res, tmp_path, "test", {"decide": summary, "report": summary})
    assert "no score year with themes and a criterion matched" in paths["markdown"].read_text()


def test_the_cluster_bootstrap_resamples_whole_gemeenten():
    # 5 gemeenten of 6 wijken each; within a gemeente the 6 wijken are copies of each other.
    gms = np.repeat([f"GM{g}" for g in range(5)], 6)
    counts = v.cluster_counts(gms, runs=200)
    assert counts.shape == (200, 30)
    # A resample draws 5 gemeenten: every wijk of a gemeente is drawn as often as the gemeente,
    # and each resample holds 5 x 6 = 30 wijken.
    for g in range(5):
        block = counts[:, g * 6 : (g + 1) * 6]
        assert (block == block[:, :1]).all()
    assert (counts.sum(axis=1) == 30).all()
    # By hand: drawing gemeenten 0, 0, 1, 3, 3 gives the wijken of 0 and 3 twice, of 1 once.
    draws = v.ClusterDraws([f"GM{g}" for g in range(5)], runs=1)
    draws.per_cluster = np.array([[2.0, 1.0, 0.0, 2.0, 0.0]])
    assert draws.counts(["GM3", "GM0", "GM1", "GM4"]).tolist() == [[2.0, 2.0, 1.0, 0.0]]
    # The per-gemeente product gives what the count matrix gives, for rho and capture alike.
    many = v.ClusterDraws([f"GM{g}" for g in range(5)], runs=300)
    labels = np.random.default_rng(1).permutation(gms)
    values = np.random.default_rng(2).normal(size=(30, 3))
    assert np.allclose(many.resamples(labels) @ values, many.counts(labels) @ values)
    ranks = v._average_ranks(values[:, 0]), v._average_ranks(values[:, 1])
    assert np.allclose(
        v.resampled_rho(*ranks, many.resamples(labels)),
        v.resampled_rho(*ranks, many.counts(labels)),
        equal_nan=True,
    )
    # Copies are not evidence: the interval over 5 gemeenten is wider than over 30 "independent" wijken.
    x, y = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 6), np.repeat([2.0, 1.0, 4.0, 3.0, 5.0], 6)
    lo_pairs, hi_pairs = v.bootstrap_rho(x, y)
    lo_gm, hi_gm = v.bootstrap_rho(x, y, clusters=gms)
    assert hi_gm - lo_gm > hi_pairs - lo_pairs


def test_a_measure_with_kept_rankings_and_cluster_numbers_is_the_measure_from_labels():
    # What validate passes (the criterion's rankings kept for the next subject, each area's
    # cluster number instead of its label) gives the measure measured from scratch: ties, a
    # subject missing areas, and the same criterion values met again.
    rng = np.random.default_rng(3)
    gms = rng.choice([f"GM{g}" for g in range(12)], size=400)
    y = rng.integers(0, 40, size=400).astype(float)  # ties
    draws = v.ClusterDraws(gms)
    ranked: dict = {}
    for k in range(4):
        x = rng.normal(size=400)
        x[rng.random(400) < 0.1 * k] = np.nan  # subjects 1-3 miss some areas
        w = rng.integers(100, 5000, size=400).astype(float)
        kept = v.measure(x, y, -1, w, clusters=gms, draws=draws, cluster_ids=draws.ids(gms), ranked=ranked)
        assert kept == v.measure(x, y, -1, w, clusters=gms, draws=draws)
    # Measured again: the kept rankings are found (four sets of areas, four entries), same measure.
    assert v.measure(x, y, -1, w, draws=draws, cluster_ids=draws.ids(gms), ranked=ranked) == kept
    assert len(ranked) == 4
    with pytest.raises(KeyError):
        draws.ids(["GM99"])


def test_codes_reused_for_another_area_are_left_out_by_name():
    crit = _criterion(["WK01", "WK02", "WK03"], "c", [1.0, 2.0, 3.0], year=2017)
    crit["name"] = crit["code"].map(
        {"WK01": "Wijk 01 Centrum", "WK02": "Wijk 02 Vogelwijk & Muziekwijk", "WK03": "Noord"}
    )
    names = pd.DataFrame(
        {
            "year": [2021, 2021, 2021, 2024],
            "level": "wijk",
            "code": ["WK01", "WK02", "WK03", "WK02"],
            # 2021 is the nearest later year with names: WK02 now holds another area.
            "name": ["Centrum", "Dokkumer Ie e.o.", "Wijk 03 Noord", "Vogelwijk"],
        }
    )
    got = v.match(crit, 2024, "wijk", names=names)
    assert sorted(got["code"]) == ["WK01", "WK03"] and got.attrs["dropped"]["name_changed"] == 1
    assert v.same_name("Wijk 00", "Wijk 00 Appingedam") and not v.same_name("Vogelwijk", "Dokkumer Ie")


def test_a_criterion_of_2017_matches_through_the_2019_boundaries():
    # SCP's 2017 wijken are the 2019 ones (BOUNDARY_LAG): WK0101 of 2019 became WK0201 (renumbered)
    # and WK0102 was split over WK0202 and WK0203 (70/30 by area).
    crit = _criterion(["WK0101", "WK0102"], "c", [5.0, 8.0], year=2017)
    cw = pd.DataFrame(
        [
            (2019, 2024, "wijk", "WK0101", "WK0201", 10.0, False),
            (2019, 2024, "wijk", "WK0102", "WK0202", 7.0, False),
            (2019, 2024, "wijk", "WK0102", "WK0203", 3.0, False),
        ],
        columns=v.CROSSWALK_COLUMNS,
    )
    got = v.match(crit, 2024, "wijk", cw).set_index("code")["criterion_value"].to_dict()
    assert got == {"WK0201": 5.0, "WK0202": 8.0, "WK0203": 8.0}
    # A crosswalk of boundaries more than BOUNDARY_LAG years after the criterion is not used
    # (by code then: no crosswalk of the criterion's era says the codes changed).
    late = v.match(crit, 2024, "wijk", cw.assign(from_year=2021)).set_index("code")["criterion_value"]
    assert late.to_dict() == {"WK0101": 5.0, "WK0102": 8.0}


def test_the_halves_are_balanced_by_size():
    sizes = pd.Series({f"GM{i:04d}": 1000 * (100 - i) for i in range(10)})
    table = v.make_halves(sizes)
    # Consecutive pairs by size: one of each pair in each half.
    for _, pair in table.groupby("stratum"):
        assert sorted(pair["half"]) == ["decide", "report"]
    by_half = table.groupby("half")["inwoners"].sum()
    assert abs(by_half["decide"] - by_half["report"]) <= 5 * 1000  # at most a pair's difference each


def test_criteria_that_restate_an_input_are_marked_and_left_out_of_the_summary():
    a = np.arange(40.0)
    b = (np.arange(40) * 7 % 40).astype(float)
    subj, codes = _two_theme_subjects(a, b)
    crit = pd.concat(
        [
            _criterion(codes, "kwb_inkomen_per_inwoner", a + b),
            _criterion(codes, "c", a + b),
        ]
    )
    res = v.validate(subj, crit)
    flags = res.groupby("criterion")["independent"].first().to_dict()
    assert flags == {"c": True, "kwb_inkomen_per_inwoner": False}
