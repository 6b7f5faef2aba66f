"""The method's SQL on a tiny hand-made table (tests/fixtures/tiny_method.toml), against values
computed by hand: percentile ranks with ties, shrinkage, goalposts, theme means, the geometric
mean across themes with its floor, SVI flags, the missing-data rules, bivariate classes and
explanations; determinism and spec validation. The hypothesis properties of the same tables are
in tests/integration/test_method_properties.py, the real data in test_method_real.py."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from tiny_method import AREAS, NATIONAL, TINY, load_tables

from veerkracht import warehouse
from veerkracht.method import scoring
from veerkracht.method.spec import SpecError, load_spec


@pytest.fixture(scope="module")
def tiny():
    con = warehouse.connect()
    load_tables(con, AREAS)
    run = scoring.score_year(con, load_spec(TINY), 2024, coverage_as=NATIONAL)
    yield con, run
    con.close()


def _col(con, sql: str) -> dict:
    return dict(con.execute(sql).fetchall())


def test_percentile_ranks_with_ties_and_shrinkage(tiny):
    con, _ = tiny
    a1 = _col(
        con,
        "SELECT code, percentile_rank FROM core.score_indicator WHERE indicator = 'a1' AND level = 'buurt'",
    )
    # a1 = 10, 20, 30, 40, (B5 too small), 30 -> ties share the lowest rank, N = 5
    assert a1 == pytest.approx(
        {"BU00010101": 0, "BU00010102": 0.25, "BU00010103": 0.5, "BU00010104": 1.0, "BU00010106": 0.5}
    )
    # a2 = -(X2 / HH * 100) (direction -1): -50, -50, -25; B4 has no X2, B6 divides by 0
    a2 = _col(con, "SELECT code, percentile_rank FROM core.score_indicator WHERE indicator = 'a2'")
    assert a2 == pytest.approx({"BU00010101": 0, "BU00010102": 0, "BU00010103": 1.0})
    reasons = _col(
        con, "SELECT code, null_reason FROM core.score_value WHERE indicator = 'a2' AND level = 'buurt'"
    )
    assert reasons["BU00010104"] == "suppressed" and reasons["BU00010106"] == "denominator_zero"
    # Shrinkage toward the wijk's 25 with n = 1000 inhabitants, k = 100: (1000 x + 100 * 25) / 1100
    shrunk = _col(
        con, "SELECT code, value_shrunk FROM core.score_value WHERE indicator = 'a1' AND level = 'buurt'"
    )
    assert shrunk["BU00010101"] == pytest.approx((1000 * 10 + 100 * 25) / 1100)
    assert shrunk["BU00010105"] == pytest.approx((100 * 50 + 100 * 25) / 200)  # small: halfway
    # Indicators without a size are not shrunk; b1 is -ln(X4) (log after shrinking, lower = worse)
    b1 = _col(con, "SELECT code, percentile_rank FROM core.score_indicator WHERE indicator = 'b1'")
    assert b1 == pytest.approx({"BU00010106": 0, "BU00010103": 1 / 3, "BU00010102": 2 / 3, "BU00010101": 1})


def test_goalposts_from_base_year_bounds(tiny):
    con, run = tiny
    assert run.goalpost_year == 2024
    gp = _col(
        con, "SELECT code, goalpost_raw FROM core.score_indicator WHERE indicator = 'a1' AND level = 'buurt'"
    )
    # quantiles [0, 1] = min 10 and max 40 of the unshrunk values: (x - 10) / 30
    assert gp == pytest.approx(
        {"BU00010101": 0, "BU00010102": 1 / 3, "BU00010103": 2 / 3, "BU00010104": 1, "BU00010106": 2 / 3}
    )
    # The wijk level has one area: lo = hi, no goalpost (NULL, not 0 or 1), and its theme and
    # axis goalpost values are NULL too, while its percentile-based score exists.
    wijk = con.execute("SELECT goalpost FROM core.score_indicator WHERE level = 'wijk'").fetchall()
    assert wijk == [(None,)]
    assert con.execute(
        "SELECT score, kwetsbaarheid_goalpost FROM core.score WHERE code = 'WK000101'"
    ).fetchone() == (0.0, None)


def test_unpublished_indicator_leaves_its_theme(tiny):
    con, _ = tiny
    status = _col(con, "SELECT indicator, status FROM core.score_indicator_status WHERE level = 'buurt'")
    assert status["c1"] == "not_published" and status["a1"] == "published"
    themes = {
        r[0]
        for r in con.execute("SELECT DISTINCT theme FROM core.score_theme WHERE level = 'buurt'").fetchall()
    }
    assert themes == {"a", "b", "p"}  # c has nothing published: not a theme anyone fails


def test_theme_and_axis_values(tiny):
    con, _ = tiny
    a = _col(con, "SELECT code, score_percentile FROM core.score_theme WHERE theme = 'a' AND complete")
    # mean of the present ranks; 2 of 3 indicators needed: B4 has only a1
    assert a == pytest.approx(
        {"BU00010101": 0, "BU00010102": 0.25 / 3, "BU00010103": 0.75, "BU00010106": 0.75, "WK000101": 0}
    )
    value = _col(
        con, "SELECT code, value FROM core.score_axis WHERE axis = 'kwetsbaarheid' AND level = 'buurt'"
    )
    # geometric mean of themes a and b, each at least the floor 0.01
    assert value["BU00010101"] == pytest.approx(math.sqrt(0.01 * 1.0), abs=1e-9)
    assert value["BU00010102"] == pytest.approx(math.sqrt(0.25 / 3 * 2 / 3), abs=1e-9)
    assert value["BU00010103"] == pytest.approx(math.sqrt(0.75 * 1 / 3), abs=1e-9)
    assert value["BU00010106"] == pytest.approx(math.sqrt(0.75 * 0.01), abs=1e-9)
    assert value["BU00010104"] is None


def test_scores_reasons_flags_and_classes(tiny):
    con, _ = tiny
    got = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT code, score, druk, n_flags, bivariate_class, score_null_reason, druk_null_reason "
            "FROM core.score"
        ).fetchall()
    }
    # kwetsbaarheid ranks: B6 0.087 < B1 0.1 < B2 0.236 < B3 0.5
    assert got["BU00010106"][:4] == (0.0, 1.0, 1, "K1D3")
    assert got["BU00010101"][:4] == (pytest.approx(1 / 3), 0.0, 1, "K2D1")
    assert got["BU00010102"][:4] == (pytest.approx(2 / 3), pytest.approx(1 / 3), 0, "K3D2")
    assert got["BU00010103"][:4] == (1.0, pytest.approx(2 / 3), 1, "K3D3")
    assert got["BU00010104"][0] is None and got["BU00010104"][4] == (
        "too_few_complete_themes (0 of 2, need 2; incomplete: a 1 of 3, b 0 of 1)"
    )
    assert got["BU00010104"][5].startswith("too_few_complete_themes (0 of 1")
    assert got["BU00010105"][4:] == ("fewer_than_200_inhabitants", "fewer_than_200_inhabitants")
    assert got["GM0001"][4] == "no_population_figure (missing)"
    # The wijk has only a1 at its level: one published theme, complete; druk is not published there.
    assert got["WK000101"][0] == 0.0
    assert got["WK000101"][5] == "not_published (no indicator of this axis for the wijks of 2024)"


def test_explanations(tiny):
    con, _ = tiny
    rows = con.execute(
        "SELECT rank, indicator, value, percentile_rank, contribution_share "
        "FROM core.score_explanation WHERE code = 'BU00010103' ORDER BY rank"
    ).fetchall()
    # theme shares 1/2 each; within a: a1 (0.5) and a2 (1.0) half each; b: b1 (1/3) alone
    parts = {"a2": 0.25 * 1.0, "b1": 0.5 / 3, "a1": 0.25 * 0.5}
    total = sum(parts.values())
    assert [r[1] for r in rows] == ["a2", "b1", "a1"]
    assert [r[4] for r in rows] == pytest.approx([round(parts[r[1]] / total, 4) for r in rows])
    assert rows[0][2] == 25.0 and rows[0][3] == 1.0


def test_same_inputs_spec_and_seed_give_identical_scores(tiny):
    con, first = tiny
    before = con.execute("SELECT * FROM core.score ORDER BY code").df()
    again = scoring.score_year(con, load_spec(TINY), 2024, coverage_as=NATIONAL)
    pd.testing.assert_frame_equal(before, con.execute("SELECT * FROM core.score ORDER BY code").df())
    pd.testing.assert_frame_equal(first.intervals, again.intervals)


def test_spec_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.read_text().replace('direction = -1\ntransform = "log"', "direction = 2"))
    with pytest.raises(SpecError, match=r"bad.toml: indicator 'b1': direction must be 1 or -1"):
        load_spec(bad)
    bad.write_text(TINY.read_text().replace('theme = "p"', 'theme = "q"'))
    with pytest.raises(SpecError, match="names unknown theme 'q'"):
        load_spec(bad)
    with pytest.raises(SpecError, match="No method spec"):
        load_spec(tmp_path / "missing.toml")
    comment_only = tmp_path / "same.toml"
    comment_only.write_text("# another comment\n" + TINY.read_text())
    assert load_spec(comment_only).sha256 == load_spec(TINY).sha256  # content, not layout


@pytest.fixture()
def scratch():
    con = warehouse.connect()
    yield con
    con.close()


@pytest.mark.parametrize(
    "old,new,message",
    [
        (
            "top_share = 0.1",
            "top_share = 2.0",
            r"classes.top_share must be a share in \[0.001, 0.5\].*got 2.0",
        ),
        (
            "quantiles = 5",
            "quantiles = 0",
            r"classes.quantiles must be a whole number of classes, 2 to 20, got 0",
        ),
        ("quantiles = 5", "quantiles = 4.5", r"classes.quantiles must be a whole number.*got 4.5"),
        (
            "runs = 200",
            "runs = 1e9",
            r"uncertainty.runs must be a whole number of runs, 1 to 100,000, got 1000000000.0",
        ),
        ("runs = 200", "runs = 0", r"uncertainty.runs .* got 0"),
        ("runs = 200", "runs = -5", r"uncertainty.runs .* got -5"),
        ("runs = 200", 'runs = "many"', r"uncertainty.runs .* got 'many'"),
        (
            "prior_size = 100",
            "prior_size = 100\nprior_sise = 5",
            r"\[shrinkage\] has unknown key\(s\) \['prior_sise'\]",
        ),
        ('source = "X3"', 'source = "X3"\nsorce = "X4"', r"indicator 'a3' has unknown key\(s\) \['sorce'\]"),
        ("[shrinkage]", "[shrinkge]\nenabled = true\n[shrinkage]", r"unknown section\(s\) \['shrinkge'\]"),
        # Issue 26.3: values that passed every range check before.
        ("top_share = 0.1", "top_share = nan", r"classes.top_share must be a finite number"),
        ("prior_size = 100", "prior_size = nan", r"shrinkage.prior_size must be a finite number"),
        ("runs = 200", "runs = inf", r"uncertainty.runs must be a finite number"),
        ('title = "A1"', 'title = "A1"\nweight = inf', r"indicators.1.weight must be a finite number"),
        ('title = "A3"', 'title = "A3"\nscale = -1000', r"indicator 'a3': weight and scale must be > 0"),
        (
            "goalpost_base_year = 2024",
            "goalpost_base_year = 1999",
            r"normalisation.goalpost_base_year must be a KWB year",
        ),
        (
            "[themes.p]",
            '[themes.empty]\naxis = "kwetsbaarheid"\n[themes.p]',
            r"theme 'empty' has no indicators",
        ),
        ("[axes.druk]", "[axes.druk]\n[axes.leeg]", r"axis 'leeg' has no themes"),
    ],
)
def test_spec_values_out_of_range_and_unknown_keys_are_refused(tmp_path, old, new, message):
    """Each was accepted before: top_share 2.0 flagged every buurt, quantiles 0 gave one class,
    runs 1e9/0/-5 failed 16 s in with numpy errors, a misspelt key was ignored."""
    text = TINY.read_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError, match=f"bad.toml: {message}"):
        load_spec(bad)


def test_an_unknown_indicator_source_is_refused_not_left_unpublished():
    from veerkracht.ingest.canonicals import known_canonicals
    from veerkracht.method.spec import DEFAULT_SPEC, check_sources

    known = known_canonicals()
    check_sources(load_spec(DEFAULT_SPEC), known)  # the shipped specs name real indicators
    check_sources(load_spec(DEFAULT_SPEC.with_name("sensitivity-arithmetic.toml")), known)
    with pytest.raises(SpecError, match=r"tiny_method.toml: indicator 'a1': source 'X1' is not a known"):
        check_sources(load_spec(TINY), known)


def test_change_between_two_years_by_code_and_by_crosswalk(scratch):
    """2024 (base year of the goalposts) first, then 2023 with other values, then 2024 again:
    the change class compares 2024 with 2023 on the goalpost scale."""
    spec = load_spec(TINY)
    load_tables(scratch, AREAS)
    scoring.score_year(scratch, spec, 2024, with_uncertainty=False, coverage_as=NATIONAL)
    first = _col(scratch, "SELECT code, change_null_reason FROM core.score_change WHERE year = 2024")
    assert set(first.values()) <= {"no_earlier_year_scored"}
    # 2023: B1 had much more crime (druk was higher then) and the same everything else.
    earlier = dict(AREAS)
    earlier["BU00010101"] = (*AREAS["BU00010101"][:6], 40)
    load_tables(scratch, earlier)
    scratch.execute("UPDATE core.dim_region SET year = 2023; UPDATE core.fact_indicator SET year = 2023")
    keep = (
        scratch.execute("SELECT * FROM core.dim_region").df(),
        scratch.execute("SELECT * FROM core.fact_indicator").df(),
    )
    load_tables(scratch, AREAS)
    scratch.register("k0", keep[0])
    scratch.register("k1", keep[1])
    scratch.execute("INSERT INTO core.dim_region SELECT * FROM k0")
    scratch.execute("INSERT INTO core.fact_indicator SELECT * FROM k1")
    scoring.score_year(scratch, spec, 2023, with_uncertainty=False, coverage_as=NATIONAL)
    assert scratch.execute(
        "SELECT DISTINCT goalpost_year FROM core.score_indicator WHERE year = 2023"
    ).fetchall() == [(2024,)]
    scoring.score_year(scratch, spec, 2024, with_uncertainty=False, coverage_as=NATIONAL)
    got = {
        r[0]: r[1:]
        for r in scratch.execute(
            "SELECT code, base_year, change_basis, d_kwetsbaarheid, d_druk, change_class, change_null_reason "
            "FROM core.score_change WHERE year = 2024"
        ).fetchall()
    }
    # B1 crime 40 -> 10 per 1,000: the indicator's goalpost (10 - 10) / (40 - 10) = 0 now, 1 before:
    # the druk change is -1 (one indicator, one theme); everything else is the same: K=.
    assert got["BU00010101"][0] == 2023 and got["BU00010101"][1].startswith("same_code: ")
    assert got["BU00010101"][3] == pytest.approx(-1.0) and got["BU00010101"][4] == "K=D-"
    assert got["BU00010101"][2] == pytest.approx(0.0)
    assert got["BU00010102"][4] == "K=D="
    assert got["BU00010104"][5] == "not_scored_in_2024"
    # With a crosswalk 2023 -> 2024, B2 now covers B2 and B1 of 2023 in equal parts.
    scratch.execute("""
        INSERT INTO core.crosswalk (from_year, to_year, level, source_code, target_code, overlap_m2)
        VALUES (2023, 2024, 'buurt', 'BU00010101', 'BU00010102', 50),
               (2023, 2024, 'buurt', 'BU00010102', 'BU00010102', 50)""")
    scoring.score_year(scratch, spec, 2024, with_uncertainty=False, coverage_as=NATIONAL)
    b2 = scratch.execute(
        "SELECT change_basis, d_druk, change_null_reason FROM core.score_change "
        "WHERE year = 2024 AND code IN ('BU00010102', 'BU00010103') ORDER BY code"
    ).fetchall()
    crime = "SELECT code, goalpost FROM core.score_indicator WHERE year = {} AND indicator = 'p1'"
    then, now = _col(scratch, crime.format(2023)), _col(scratch, crime.format(2024))
    assert b2[0][0].startswith("crosswalk: ")
    assert b2[0][1] == pytest.approx(now["BU00010102"] - (then["BU00010101"] + then["BU00010102"]) / 2)
    assert b2[1][2].startswith("no_earlier_area_with_comparable_indicators")  # B3: not in this crosswalk
    scratch.execute("DELETE FROM core.crosswalk")
