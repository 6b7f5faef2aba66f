"""Method diagnostics on a tiny table built to trigger them: a redundant indicator pair within a
theme is flagged (|r| > 0.9), an uncorrelated one is not, a one-area spike is outlier-prone
(|skew| > 2 and kurtosis > 3.5), and an unpublished indicator shows in the coverage."""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_method import NATIONAL, TINY, load_tables

from veerkracht import warehouse
from veerkracht.method import diagnostics, scoring
from veerkracht.method.spec import load_spec

# 12 buurten of 1,000 inhabitants and 100 households. X3 = 2·X1 + 1 (a3 repeats a1); X2 is a
# permutation with no linear relation to X1; CRIME is flat but for one spike (p1 = crime per 1,000).
X2 = [50, 10, 90, 30, 70, 20, 80, 40, 60, 15, 85, 45]
AREAS = {
    f"BU000101{i:02d}": (
        1000,
        10.0 * (i + 1),
        X2[i],
        100,
        20.0 * (i + 1) + 1,
        100 + i,
        1000 if i == 7 else 10,
    )
    for i in range(12)
}


@pytest.fixture(scope="module")
def diag():
    con = warehouse.connect()
    load_tables(con, AREAS)
    spec = load_spec(TINY)
    scoring.score_year(con, spec, 2024, with_uncertainty=False, coverage_as=NATIONAL)
    yield diagnostics.indicator_diagnostics(con, 2024, spec.spec_hash)
    con.close()


def test_redundant_pair_is_flagged_and_sorted_first(diag):
    corr = diag["correlation"].query("level == 'buurt'").set_index("pair")
    assert corr.loc["a1 ~ a3", "r"] == pytest.approx(1.0, abs=1e-3) and corr.loc["a1 ~ a3", "flag"]
    assert abs(corr.loc["a1 ~ a2", "r"]) < 0.5 and not corr.loc["a1 ~ a2", "flag"]
    assert diag["correlation"]["flag"].iloc[0]  # flagged pairs first


def test_a_spike_is_outlier_prone(diag):
    dist = diag["distribution"].query("level == 'buurt'").set_index("indicator")
    assert dist.loc["p1", "outlier_prone"] and dist.loc["p1", "skew"] > 3
    assert not dist.loc["a1", "outlier_prone"]
    assert dist.loc["p1", "n"] == 12


def test_coverage_reports_unpublished_indicators(diag):
    cov = diag["coverage"].query("level == 'buurt'").set_index("indicator")
    assert cov.loc["c1", "status"] == "not_published" and cov.loc["c1", "share"] == 0
    assert cov.loc["a1", "status"] == "published" and cov.loc["a1", "share"] == 1


def test_a_constant_indicator_is_neither_flagged_nor_outlier_prone():
    """X2 the same in every buurt: a2 has no correlation and no skew (DuckDB gives NaN, which
    sorts above every number: unhandled, the pair would be flagged as redundant)."""
    flat = {code: (v[0], v[1], 50, *v[3:]) for code, v in AREAS.items()}
    con = warehouse.connect()
    load_tables(con, flat)
    spec = load_spec(TINY)
    scoring.score_year(con, spec, 2024, with_uncertainty=False, coverage_as=NATIONAL)
    found = diagnostics.indicator_diagnostics(con, 2024, spec.spec_hash)
    con.close()
    pair = found["correlation"].query("level == 'buurt'").set_index("pair").loc["a1 ~ a2"]
    assert pd.isna(pair["r"]) and not pair["flag"]
    a2 = found["distribution"].query("level == 'buurt'").set_index("indicator").loc["a2"]
    assert pd.isna(a2["skew"]) and not a2["outlier_prone"]
