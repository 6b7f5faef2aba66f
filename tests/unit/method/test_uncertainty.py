"""Monte Carlo rank intervals: ranking semantics, determinism, and sanity on real data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from veerkracht.method.spec import MethodSpec, load_spec
from veerkracht.method.uncertainty import _ranks, simulate


def test_ranks_match_percent_rank_with_ties():
    got = _ranks(np.array([[0.3, 0.1, 0.3, 0.9]]))
    assert got.tolist() == [[1 / 3, 0.0, 1 / 3, 1.0]]  # ties share the lowest rank, like DuckDB


def test_ranks_match_pandas_min_rank_on_many_rows_and_signs():
    """The key sort (issue 17) against pandas' rank(method='min'): negative scores, -0.0, repeated
    values, infinities."""
    rng = np.random.default_rng(5)
    cases = [
        rng.normal(size=(30, 700)),
        np.round(rng.normal(size=(30, 700)), 1),  # many exact ties
        np.array([[0.0, -0.0, 1.0, -1.0, -0.5, 0.5, -0.5, np.inf, -np.inf]]),
    ]
    for scores in cases:
        want = np.vstack([(pd.Series(r).rank(method="min").to_numpy() - 1) / (r.size - 1) for r in scores])
        np.testing.assert_array_equal(_ranks(scores), want)


def test_scores_one_rounding_step_apart_tie():
    """The same inputs summed under other weights come out a last bit apart (the geometric floor
    0.01 as 0.01 + 1.7e-18): they share a rank instead of being ordered by rounding noise."""
    floor = 0.01
    scores = np.array([[np.nextafter(floor, 1), 0.5, floor, np.nextafter(floor, 0)]])
    assert _ranks(scores).tolist() == [[0.0, 1.0, 0.0, 0.0]]


SPEC = load_spec()  # the default method: its themes, weights and Monte Carlo settings
THEMED = [i for i in SPEC.indicators if i.theme in ("inkomen", "wonen")]


def _components(n: int = 20, seed: int = 1) -> pd.DataFrame:
    """Normalised values of ``n`` areas on the real spec indicators of two themes; A00 is the most
    vulnerable on every one of them under every normalisation and shrinkage variant."""
    rng = np.random.default_rng(seed)
    values = {}
    for ind in THEMED:
        values[ind.name] = rng.normal(size=n)
        values[ind.name][0] = 10.0
    return _normalised(values)


def _normalised(values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long component rows of areas A00, A01, ... from their raw values per indicator: percentile
    ranks (ties at the lowest) and goalposts (min-max), the same with and without shrinkage."""
    theme = {ind.name: ind.theme for ind in SPEC.indicators}
    rows = []
    for name, vals in values.items():
        ranks = (pd.Series(vals).rank(method="min").to_numpy() - 1) / (len(vals) - 1)
        gp = np.clip((vals - vals.min()) / (vals.max() - vals.min()), 0, 1)
        for i in range(len(vals)):
            rows.append(
                {
                    "code": f"A{i:02d}",
                    "theme": theme[name],
                    "indicator": name,
                    "percentile_rank": ranks[i],
                    "percentile_rank_raw": ranks[i],
                    "goalpost": gp[i],
                    "goalpost_raw": gp[i],
                }
            )
    return pd.DataFrame(rows)


def _with(**mc) -> MethodSpec:
    return replace(SPEC, uncertainty=replace(SPEC.uncertainty, **mc))


def _exact(**mc) -> MethodSpec:
    """(Almost) no weight noise and no variants: every run is the spec's own method."""
    return _with(
        weight_concentration=1e9,
        p_other_normalisation=0,
        p_other_aggregation=0,
        p_no_shrinkage=0,
        p_leave_out=0,
        **mc,
    )


def test_deterministic_for_a_seed_and_sensitive_to_it():
    comp = _components()
    a, b = simulate(comp, _with(runs=500, seed=7)), simulate(comp, _with(runs=500, seed=7))
    pd.testing.assert_frame_equal(a, b)
    assert not simulate(comp, _with(runs=500, seed=8)).equals(a)


def test_dominant_area_is_certainly_top():
    out = simulate(_components(), SPEC).set_index("code")
    assert out.loc["A00", "rank_p05"] == 1.0 and out.loc["A00", "p_top10"] == 1.0
    assert not out.loc["A00", "uncertain"]
    assert ((out["rank_p05"] <= out["rank_p50"]) & (out["rank_p50"] <= out["rank_p95"])).all()


def test_without_perturbation_the_intervals_collapse_to_the_method():
    """(Almost) no weight noise, no variants: every run is the spec's own method, so the
    intervals collapse; exact ties between areas may still flip by one position."""
    out = simulate(_components(), _exact(runs=50))
    width = out["rank_p95"] - out["rank_p05"]
    assert width.max() <= 1 / 19 + 1e-3 and (width == 0).mean() > 0.8  # ranks are rounded to 4 digits


def test_more_perturbation_widens_the_intervals():
    comp = _components(n=60)
    narrow = simulate(comp, _with(weight_concentration=200, p_leave_out=0, runs=400))
    wide = simulate(comp, _with(weight_concentration=1, p_leave_out=0.9, runs=400))
    width = lambda d: (d["rank_p95"] - d["rank_p05"]).median()  # noqa: E731
    assert width(wide) > width(narrow)


def test_chunking_does_not_change_the_intervals(monkeypatch):
    """Runs are simulated in chunks sized to the number of areas (memory at 30x NL); the chunk
    size must not show in the result: one run per chunk gives what 50 per chunk give."""
    import veerkracht.method.uncertainty as unc

    comp = _components(n=60, seed=3)
    spec = _with(runs=300)
    default = simulate(comp, spec)
    monkeypatch.setattr(unc, "CHUNK_CELLS", 1)
    pd.testing.assert_frame_equal(simulate(comp, spec), default, check_exact=True)


def test_areas_tied_across_the_top_share_boundary_share_their_rank_below_it():
    """Twenty areas in the spec's own order every run; A17 and A18 tie. Their shared rank is
    17/19 = 0.89, below the top decile (0.9), although the sort puts one of them at place 18,
    which is in it: only A19 is in the top, in every run."""
    n = 20
    values = np.arange(n, dtype=float)
    values[18] = values[17]
    comp = _normalised({ind.name: values for ind in THEMED})
    out = simulate(comp, _exact()).set_index("code")
    assert out["p_top10"].to_dict() == {f"A{i:02d}": (1.0 if i == 19 else 0.0) for i in range(n)}
    assert out.loc[["A17", "A18"], "rank_p50"].tolist() == [round(17 / 19, 4)] * 2
