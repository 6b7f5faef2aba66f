"""Monte Carlo rank intervals: ranking semantics, determinism, and sanity on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from veerkracht import warehouse
from veerkracht.uncertainty import MonteCarlo, _ranks, simulate


def test_ranks_match_percent_rank_with_ties():
    got = _ranks(np.array([[0.3, 0.1, 0.3, 0.9]]))
    assert got.tolist() == [[1 / 3, 0.0, 1 / 3, 1.0]]  # ties share the lowest rank, like DuckDB


def _components(n: int = 20, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(5):
        vals = rng.normal(size=n)
        vals[0] = 10.0  # area A00 is the most vulnerable on every indicator
        ranks = pd.Series(vals).rank(method="min").to_numpy()
        for i in range(n):
            rows.append({"code": f"A{i:02d}", "indicator": f"i{k}", "oriented": vals[i],
                         "percentile_rank": (ranks[i] - 1) / (n - 1)})
    return pd.DataFrame(rows)


def test_deterministic_for_a_seed_and_sensitive_to_it():
    comp = _components()
    a, b = simulate(comp, MonteCarlo(runs=500, seed=7)), simulate(comp, MonteCarlo(runs=500, seed=7))
    pd.testing.assert_frame_equal(a, b)
    assert not simulate(comp, MonteCarlo(runs=500, seed=8)).equals(a)


def test_dominant_area_is_certainly_top():
    out = simulate(_components()).set_index("code")
    assert out.loc["A00", "rank_p05"] == 1.0 and out.loc["A00", "p_top10"] == 1.0
    assert not out.loc["A00", "uncertain"]
    assert ((out["rank_p05"] <= out["rank_p50"]) & (out["rank_p50"] <= out["rank_p95"])).all()


def test_areas_with_too_few_indicators_are_not_simulated():
    comp = _components()
    comp = comp[~((comp["code"] == "A05") & comp["indicator"].isin(["i0", "i1", "i2"]))]
    assert "A05" not in set(simulate(comp, min_indicators=3)["code"])


def test_intervals_on_real_data(embedded_run):
    with warehouse.connection(embedded_run.warehouse_db, read_only=True) as con:
        rows = con.execute("SELECT level, score, rank_p05, rank_p50, rank_p95, p_top10, uncertain "
                           "FROM marts.area").df()
        runs = con.execute("SELECT DISTINCT mc_runs, mc_seed FROM core.score_uncertainty").fetchall()
    scored = rows[rows["score"].notna()]
    assert scored["rank_p50"].notna().all() and rows.loc[rows["score"].isna(), "rank_p50"].isna().all()
    assert ((scored["rank_p05"] <= scored["rank_p50"]) & (scored["rank_p50"] <= scored["rank_p95"])).all()
    assert scored[["rank_p05", "rank_p95", "p_top10"]].stack().between(0, 1).all()
    assert runs == [(1000, MonteCarlo().seed)]
    # The v0 score is fragile: most areas' class depends on method choices. Reported, not hidden.
    assert scored["uncertain"].mean() > 0.5
    # Strong agreement at the top: areas with p_top10 >= 0.9 have a median rank in the top 15 %.
    sure = scored[scored["p_top10"] >= 0.9]
    assert len(sure) > 100 and (sure["rank_p50"] >= 0.85).all()
