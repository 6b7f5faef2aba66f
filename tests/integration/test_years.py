"""The main job on every embedded year (README's first command): KWB 2021, 2022, Utrecht 2023 and
2024 scored, change classes where two comparable years exist, computed as the docs say."""

from __future__ import annotations

import json
import os

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.versions import CODE_VERSION
from veerkracht.method.spec import load_spec
from veerkracht.publish import layers, webmap


def test_every_embedded_year_is_scored_in_one_run_and_reported(years_run):
    layout, stdout, con, _ = years_run
    scored = dict(
        (tuple(r[:2]), r[2])
        for r in con.execute(
            "SELECT year, level, count(score) FROM marts.area GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    )
    assert scored[(2021, "wijk")] > 2500 and scored[(2021, "gemeente")] == 352
    assert scored[(2022, "wijk")] > 2500 and scored[(2022, "gemeente")] == 345
    assert scored[(2023, "buurt")] > 100 and scored[(2023, "wijk")] == 10
    assert scored[(2024, "buurt")] > 10000
    assert (2021, "buurt") not in scored  # the 2021 download file has no buurten: no empty layer
    assert not (layout.layers / "2021" / "buurt_2021_4326.parquet").exists()
    assert json.loads((layout.web / "years.json").read_text()) == [2024, 2023, 2022, 2021]
    assert "KWB 2021, 2022, 2023, 2024" in stdout and "Done in" in stdout
    assert stdout.count("one Dagster run") == 1  # one run of the one job, every year
    assert len(stdout.splitlines()) <= 25, stdout  # one screen: a line per step


def test_income_and_care_are_filled_for_2021(years_run):
    _, _, con, _ = years_run
    complete = dict(
        con.execute(
            "SELECT theme, count(*) FILTER (WHERE complete) FROM core.score_theme "
            "WHERE year = 2021 AND level = 'wijk' GROUP BY theme"
        ).fetchall()
    )
    assert complete["inkomen"] > 2500 and complete["zorg"] > 2500


def test_a_partial_year_is_ranked_on_the_national_base_year(years_run):
    layout, _, con, _ = years_run
    coverage = con.execute("SELECT DISTINCT coverage FROM marts.area WHERE year = 2023").fetchall()
    assert coverage == [("partial: 1 of 342 gemeenten (Utrecht); ranked on the national goalposts",)]
    assert json.loads((layout.web / "meta_2023.json").read_text())["coverage"].startswith("partial")
    # By hand for one buurt: the share of the 2024 buurten whose goalpost value is lower.
    code, value, score = con.execute(
        "SELECT a.code, a.value_goalpost, s.score FROM core.score_axis AS a JOIN core.score AS s "
        "USING (year, code) WHERE a.year = 2023 AND a.level = 'buurt' AND a.axis = 'kwetsbaarheid' "
        "AND s.score IS NOT NULL ORDER BY a.code LIMIT 1"
    ).fetchone()
    base = np.array(
        [
            r[0]
            for r in con.execute(
                "SELECT value_goalpost FROM core.score_axis WHERE year = 2024 AND level = 'buurt' "
                "AND axis = 'kwetsbaarheid' AND value_goalpost IS NOT NULL"
            ).fetchall()
        ]
    )
    assert score == pytest.approx(min(1.0, (base < value).sum() / (len(base) - 1)), abs=1e-6), code
    # No Monte Carlo intervals for a partial year: they would be ranks among 111 buurten.
    assert con.execute("SELECT count(rank_p05) FROM marts.area WHERE year = 2023").fetchone()[0] == 0


def test_change_2021_to_2024_by_hand_for_real_wijken(years_run):
    _, _, con, _ = years_run
    spec = load_spec()
    comparable = {i.name: i for i in spec.indicators if i.comparable}
    theme_weight = {t.name: t.weight for t in spec.themes}
    rows = con.execute(
        # Wijken the 2021 -> 2024 crosswalk maps 1:1 onto themselves (same code, one source), so
        # their 2021 values are their own; merged or split ones are the crosswalk's (tested in
        # tests/unit/method/test_method.py).
        "SELECT code, d_kwetsbaarheid, change_class FROM core.score_change "
        "WHERE year = 2024 AND base_year = 2021 AND level = 'wijk' AND d_kwetsbaarheid IS NOT NULL "
        "AND code IN (SELECT target_code FROM core.crosswalk WHERE from_year = 2021 AND level = 'wijk' "
        "GROUP BY target_code HAVING count(*) = 1 AND any_value(source_code) = target_code) "
        "ORDER BY abs(d_kwetsbaarheid) DESC, code LIMIT 3"
    ).fetchall()
    assert len(rows) == 3
    for code, delta, cls in rows:
        g = {
            (y, ind): v
            for y, ind, v in con.execute(
                # Each year's own figures: a figure carried from an earlier vintage (method v3)
                # is no new measurement and does not count as change.
                "SELECT year, indicator, goalpost FROM core.score_indicator "
                "WHERE code = ? AND year IN (2021, 2024) AND goalpost IS NOT NULL AND vintage = year",
                [code],
            ).fetchall()
        }
        per_theme: dict[str, list[tuple[float, float]]] = {}
        for name, ind in comparable.items():
            if ind.theme in ("veiligheid",) or (2021, name) not in g or (2024, name) not in g:
                continue
            per_theme.setdefault(ind.theme, []).append((ind.weight, g[(2024, name)] - g[(2021, name)]))
        theme_delta = {t: sum(w * d for w, d in v) / sum(w for w, _ in v) for t, v in per_theme.items()}
        expected = sum(theme_weight[t] * d for t, d in theme_delta.items()) / sum(
            theme_weight[t] for t in theme_delta
        )
        assert delta == pytest.approx(expected, abs=1e-6), code
        sign = "+" if expected > 0.05 else "-" if expected < -0.05 else "="
        assert cls == f"K{sign}D?", code  # crime counts exist for 2024 only: druk is '?'


def test_nominal_euros_are_left_out_of_change(years_run):
    _, _, con, _ = years_run
    bases = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT change_basis FROM core.score_change WHERE change_basis IS NOT NULL"
        ).fetchall()
    ]
    assert bases and all("kwetsbaarheid indicators" in b for b in bases)
    # woz_waarde and inkomen_per_inwoner are published in 2021 and 2024 but not comparable.
    assert {i.name for i in load_spec().indicators if not i.comparable} == {
        "woz_waarde",
        "inkomen_per_inwoner",
    }
    n = con.execute(
        "SELECT max(CAST(regexp_extract(change_basis, ': (\\d+) kwetsbaarheid', 1) AS INTEGER)) "
        "FROM core.score_change WHERE year = 2024 AND base_year = 2021"
    ).fetchone()[0]
    assert n == 2  # corporatie and koop: the comparable indicators (v2) both years publish


def test_change_shares_per_year_and_level(years_run):
    _, _, con, _ = years_run
    share = {
        (y, lv): (n, c)
        for y, lv, n, c in con.execute(
            "SELECT year, level, count(*), count(change_class) FROM marts.area GROUP BY ALL"
        ).fetchall()
    }
    assert share[(2021, "wijk")][1] == 0  # the first year: nothing to compare with
    assert share[(2022, "wijk")][1] / share[(2022, "wijk")][0] > 0.7
    assert share[(2024, "wijk")][1] / share[(2024, "wijk")][0] > 0.7
    assert share[(2024, "buurt")][1] > 100  # Utrecht 2023 -> 2024


def test_continuity_runs_on_real_consecutive_years(years_run):
    _, _, con, _ = years_run
    # 2021 -> 2022: gemeente counts compared by code; merged gemeenten jump, and are listed.
    from veerkracht import checks

    outcome = checks.run(con, checks.get("year_over_year_continuity"), 2022)
    assert outcome.metadata["compared_with"] == 2021
    assert not outcome.passed and len(outcome.offending) > 0


def test_validation_is_in_the_warehouse_and_the_report(years_run):
    layout, _, con, _ = years_run
    rows = con.execute(
        "SELECT criterion, score_year, half, kind, n, rho FROM core.validation "
        "WHERE level = 'wijk' AND kind = 'score' AND half = 'report'"
    ).df()
    assert {"scp_perc_jhzv", "scp_perc_hhbijs", "scp_primary_mean_rank"} <= set(rows["criterion"])
    # Method v3 carries KWB 2021 into the wijken of 2022-2024: those criteria are its input there.
    assert not rows["criterion"].str.startswith("kwb_").any()
    assert (rows.loc[rows["n"] >= 30, "rho"].between(-1, 1)).all()
    # SCP's 2017 wijken reach 2024's through the 2019 boundaries (also wijken whose code is new),
    # leaving out codes whose SCP name is another area's in 2021 (Leeuwarden renumbered).
    scp = con.execute(
        "SELECT n, n_crosswalk, dropped_name, independent FROM core.validation "
        "WHERE criterion = 'scp_perc_hhbijs' AND level = 'wijk' AND score_year = 2024 "
        "AND kind = 'score' AND half = 'all'"
    ).fetchone()
    assert scp[0] > 1500 and 100 < scp[1] < scp[0] and scp[2] > 50 and scp[3]
    marked = con.execute(
        "SELECT DISTINCT criterion FROM core.validation WHERE NOT independent ORDER BY 1"
    ).fetchall()
    # (KWB income per inhabitant is v3's own input for every year with gemeenten and wijken here.)
    assert [m[0] for m in marked] == ["scp_perc_ao"]
    # The buurten people read are checked against KWB 2021's own buurt figures.
    buurt = con.execute(
        "SELECT n, rho FROM core.validation WHERE criterion = 'kwb_buurt_laag_inkomen_pct' "
        "AND level = 'buurt' AND score_year = 2024 AND kind = 'score' AND half = 'all'"
    ).fetchone()
    assert buurt[0] > 300 and buurt[1] > 0.5
    report = (layout.root / "validation" / "validation.md").read_text()
    assert (
        "Headline score against its best theme" in report
        and (layout.root / "validation" / "validation.png").is_file()
    )
    # The frontier on the real data: no weighting of 2024's three themes beats the best of them
    # on every criterion (docs/methodology.md says why).
    decide = report.split("decide half:")[1].split("report half:")[0]
    rows = {
        tuple(c.strip() for c in line.split("|")[1:3]): line for line in decide.splitlines() if "|" in line
    }
    assert rows[("wijk", "2024")].rstrip(" |").endswith("no")
    # The requirement of the report half: on 2024 wijken and gemeenten the headline's mean rho over
    # the independent criteria is at least every part's, and on the primary criterion it is at
    # least as good as every part on rho and capture.
    summary = con.execute(
        "SELECT level, criteria, min(d_rho), min(d_capture) FROM core.validation_summary "
        "WHERE score_year = 2024 AND level IN ('wijk', 'gemeente') GROUP BY ALL"
    ).fetchall()
    got = {(lv, c): (r, k) for lv, c, r, k in summary}
    for level in ("wijk", "gemeente"):
        assert got[(level, "independent")][0] >= 0 and min(got[(level, "primary")]) >= 0


def test_the_stored_matches_are_what_matching_again_gives(years_run):
    """score_validation measures against the matches validation_criteria stored (a run with another
    spec does not match again): on the real run, every criterion's stored match onto every year is
    what matching it again from the warehouse gives, with the same codes left out."""
    from veerkracht.method import validation

    _, _, con, _ = years_run
    criteria, stored = validation.stored_matching(con)
    again = validation.matching_tables(con)
    assert len(stored.matched) > 100  # every criterion onto every year with areas of its level
    years = con.execute("SELECT level, list(DISTINCT year) FROM core.dim_region GROUP BY level").fetchall()
    checked = set()
    for (crit, _, level, _), c in criteria.groupby(validation.CRITERION_KEY):
        for year in dict(years)[level]:
            got, want = stored.match(c, year, level), again.match(c, year, level)
            pd.testing.assert_frame_equal(got, want, check_dtype=False, check_index_type=False)
            assert got.attrs["dropped"] == want.attrs["dropped"]
            checked.add((crit, level, year, len(got) > 0))
    assert ("scp_perc_hhbijs", "wijk", 2024, True) in checked
    assert ("kwb_buurt_laag_inkomen_pct", "buurt", 2024, True) in checked
    # A year the stored matches do not cover: a clear error, not a silent empty match.
    with pytest.raises(validation.StaleMatches, match="materialise validation_criteria"):
        stored.match(criteria[criteria["criterion"] == "scp_perc_hhbijs"], 2030, "wijk")
    # Gathered again, the criteria come in the order stored (their `row`), every time: a run stores
    # the same table (KWB 2021's income criteria came in the order a GROUP BY's threads ended, so
    # 3 of 8 gatherings on one warehouse differed).
    from veerkracht.method.residents import load_buurt_truth
    from veerkracht.paths import EMBEDDED_DIR, VALIDATION_DIR

    buurten = load_buurt_truth(EMBEDDED_DIR)
    for _ in range(8):
        again = validation.gather_criteria(con, [VALIDATION_DIR], buurten)
        pd.testing.assert_frame_equal(again, criteria, check_dtype=False)


def test_the_shortlist_marks_what_the_interval_leaves_open(years_run):
    layout, _, con, _ = years_run
    import pandas as pd

    rows = pd.read_csv(layout.layers / "2024" / "shortlist_wijk_2024.csv")
    top = rows[rows["status"].str.startswith("top_decile")]
    assert (top["score"] >= 0.9 - 1e-9).all() and len(top) > 250
    below = rows[rows["status"] == "below_cut_interval_reaches_it"]
    # (scores are rounded to 4 decimals in the list: 0.89996 shows as 0.9)
    assert (below["score"] <= 0.9).all() and (below["rank_p95"] >= 0.9 - 1e-9).all()
    unsure = rows[rows["status"].str.startswith("top_decile_uncertain")]
    assert (unsure["rank_p05"] < 0.9).all()
    assert rows["position"].tolist() == list(range(1, len(rows) + 1))
    assert json.loads((layout.web / "shortlist_2024.json").read_text())["wijk"][0]["position"] == 1


def test_the_tiles_made_ahead_are_the_ones_the_web_map_draws(years_run, monkeypatch):
    """The run tiles every year's boundaries while the scores are computed, from the warehouse
    (veerkracht/helpers.py, ``ahead``); the web map keys the tiles on the layer files it wrote
    after. Were the two derivations of a year's polygons to drift apart, the map stayed right and
    the run tiled twice: here every year's archive, as the page names it, is the one made ahead."""
    layout, _, _, _ = years_run
    # The README's run (two cores or more: helper processes) did tile ahead.
    monkeypatch.setenv("DAGSTER_HOME", str(layout.root.parent / "home"))
    with dg.DagsterInstance.get() as instance:
        core = instance.get_latest_materialization_event(dg.AssetKey("warehouse_core")).asset_materialization
    if (os.cpu_count() or 1) > 1:
        assert core.metadata["web map tiles"].value.startswith("tiled ahead"), core.metadata
    with duckdb.connect(str(layout.build_db), read_only=True) as con:
        con.execute("LOAD spatial")
        rows = layers.boundary_rows(con)
    for year in (2021, 2022, 2023, 2024):
        ahead = layers.boundaries(rows, year)
        assert set(ahead) == {"gemeente", "wijk", "buurt"} - ({"buurt"} if year < 2023 else set())
        named = webmap.year_tiles(layout.web, year).name
        assert named == f"tiles_{webmap.boundary_key(ahead, CODE_VERSION)}.pmtiles", year
