"""Each data-quality check passes on the real embedded data and fails on a copy made bad on purpose."""

from __future__ import annotations

import pytest

from veerkracht import checks, warehouse

BOWTIE = (
    "ST_SetCRS(ST_GeomFromText('POLYGON((150000 450000, 151000 451000, 151000 450000, "
    "150000 451000, 150000 450000))'), 'EPSG:28992')"
)


@pytest.fixture()
def build(writable_build):
    """A writable copy of the real build database."""
    return writable_build


def _by_name(outcomes):
    return {o.name: o for o in outcomes}


def test_checks_on_real_data(build):
    got = _by_name(checks.run_stage(build, "warehouse", 2024) + checks.run_stage(build, "scores", 2024))
    for name in (
        "region_codes",
        "geometry_valid",
        "coverage_no_sharp_drop",
        "percentages_in_range",
        "buurt_sums_match_gemeente",
        "year_over_year_continuity",
        "scores_in_range",
    ):
        assert got[name].passed, (name, got[name].offending)
    # Real findings, reported as warnings: the two gemeenten whose buurt reconstruction failed
    # (Harlingen, Vlissingen) and Amsterdam, whose full-detail buurten include the IJ's water.
    cover = got["buurten_cover_gemeente"]
    assert not cover.passed and cover.severity == "WARN"
    assert {"GM0072", "GM0718", "GM0363"} <= set(cover.offending["code"])
    assert len(cover.offending) <= 4, (
        f"more than a handful off by {checks.get('buurten_cover_gemeente').params['tolerance']}"
    )
    published = got["indicators_published"]
    assert published.severity == "WARN" and "GemiddeldInkomenPerInkomensontvanger" in set(
        published.offending["canonical"]
    )


def test_duplicated_code_fails(build):
    build.execute("INSERT INTO core.dim_region SELECT * FROM core.dim_region WHERE code = 'BU03080102'")
    outcome = _by_name(checks.run_stage(build, "warehouse", 2024))["region_codes"]
    assert not outcome.passed and outcome.severity == "ERROR"
    assert outcome.offending.to_dict("records") == [{"code": "BU03080102", "problem": "duplicate code"}]


def test_orphan_buurt_and_bad_format_fail(build):
    build.execute("DELETE FROM core.dim_region WHERE code = 'WK030801'")
    build.execute("UPDATE core.dim_region SET code = 'GM308' WHERE code = 'GM0308'")
    problems = set(_by_name(checks.run_stage(build, "warehouse", 2024))["region_codes"].offending["problem"])
    assert "parent wijk WK030801 missing" in problems and "bad format for gemeente" in problems


def test_invalid_polygon_fails(build):
    build.execute(f"UPDATE staging.geometry SET geom = {BOWTIE} WHERE code = 'BU03080102'")
    outcome = _by_name(checks.run_stage(build, "warehouse", 2024))["geometry_valid"]
    assert not outcome.passed
    assert outcome.offending.to_dict("records") == [
        {"code": "BU03080102", "level": "buurt", "problem": "invalid"}
    ]


def test_zeroed_indicator_blocks_as_coverage_drop(build):
    """A download that lost an indicator (all NULL) is caught against the previous run."""
    checks.record_availability(build, 2024)
    build.execute(
        "UPDATE core.fact_indicator SET value = NULL, null_reason = 'empty' "
        "WHERE year = 2024 AND canonical = 'Koopwoningen'"
    )
    warehouse.build_model(build, "core.indicator_availability", "indicator_availability", 2024)
    checks.record_availability(build, 2024)
    outcome = _by_name(checks.run_stage(build, "warehouse", 2024))["coverage_no_sharp_drop"]
    assert not outcome.passed and outcome.severity == "ERROR"
    assert set(outcome.offending["canonical"]) == {"Koopwoningen"}
    assert set(outcome.offending["level"]) == {"land", "gemeente", "wijk", "buurt"}


def test_counts_published_as_percentages_fail(build):
    build.execute(
        "UPDATE core.fact_indicator SET value = value * 100 "
        "WHERE canonical = 'Koopwoningen' AND code = 'GM0308'"
    )
    outcome = _by_name(checks.run_stage(build, "warehouse", 2024))["percentages_in_range"]
    assert not outcome.passed and list(outcome.offending["code"]) == ["GM0308"]


def test_year_over_year_jump_warns(build):
    """A previous year with Baarn at half its population: the jump is flagged, with the area."""
    build.execute(
        "INSERT INTO core.fact_indicator SELECT * REPLACE (2023 AS year, "
        "CASE WHEN code = 'GM0308' THEN value / 2 ELSE value END AS value) "
        "FROM core.fact_indicator WHERE year = 2024 AND canonical = 'AantalInwoners'"
    )
    outcome = _by_name(checks.run_stage(build, "warehouse", 2024))["year_over_year_continuity"]
    assert not outcome.passed and outcome.severity == "WARN" and outcome.metadata["compared_with"] == 2023
    assert outcome.offending[["code", "canonical"]].values.tolist() == [["GM0308", "AantalInwoners"]]


def test_score_out_of_range_fails(build):
    build.execute("UPDATE core.score SET score = 1.5 WHERE code = 'BU03080102'")
    outcome = checks.run_stage(build, "scores", 2024)[0]
    assert not outcome.passed and outcome.offending["level"].tolist() == ["buurt"]
