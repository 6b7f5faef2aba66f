"""Monte Carlo uncertainty of the score: how much an area's rank depends on the method's choices.

Belongs here: the simulation over one level's score components (numpy, vectorised over runs).
Each run draws its own method: indicator weights from a Dirichlet around equal weights,
normalisation (national percentile rank, or min-max goalposts on the oriented values),
aggregation (arithmetic or geometric mean), and with probability ``p_leave_out`` one indicator
left out. The run's score is ranked among the level's scored areas. Per area we report the
median percentile rank, the 5–95 % interval, the probability of being in the top decile, and
``uncertain`` when the interval spans more than one quintile class (it crosses a class
boundary).

Runs are seeded (``numpy.random.default_rng(seed)``), so the same inputs, method and seed give
bit-identical results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MonteCarlo:
    """Parameters of the simulation (stored with the results)."""

    runs: int = 1000
    seed: int = 20241
    #: Dirichlet concentration per indicator: higher keeps weights closer to equal.
    weight_concentration: float = 5.0
    p_goalposts: float = 0.5
    p_geometric: float = 0.5
    p_leave_out: float = 0.5
    #: Floor for the geometric mean, so a rank of 0 does not zero the whole score.
    geometric_floor: float = 0.01


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Percentile rank (rank-1)/(N-1) per row, ties at the lowest rank (like percent_rank)."""
    n = scores.shape[1]
    order = np.argsort(scores, axis=1, kind="stable")
    sorted_vals = np.take_along_axis(scores, order, axis=1)
    # The lowest position of each run of equal values: ties share the lowest rank.
    first = np.ones_like(sorted_vals, dtype=bool)
    first[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    pos = np.where(first, np.arange(n)[None, :], 0)
    pos = np.maximum.accumulate(pos, axis=1)
    ranks = np.empty_like(scores)
    np.put_along_axis(ranks, order, pos / max(n - 1, 1), axis=1)
    return ranks


def simulate(components: pd.DataFrame, mc: MonteCarlo = MonteCarlo(), min_indicators: int = 3) -> pd.DataFrame:
    """Rank intervals for the areas of one level.

    ``components``: long rows ``code, indicator, oriented, percentile_rank`` (higher = more
    vulnerable). Areas with fewer than ``min_indicators`` components are not simulated.
    """
    wide_rank = components.pivot(index="code", columns="indicator", values="percentile_rank")
    wide_val = components.pivot(index="code", columns="indicator", values="oriented")
    keep = wide_rank.notna().sum(axis=1) >= min_indicators
    wide_rank, wide_val = wide_rank[keep], wide_val[keep]
    codes = wide_rank.index.to_numpy()
    p = wide_rank.to_numpy(dtype=float)                       # areas x indicators
    lo, hi = np.nanmin(wide_val.to_numpy(dtype=float), axis=0), np.nanmax(wide_val.to_numpy(dtype=float), axis=0)
    g = (wide_val.to_numpy(dtype=float) - lo) / np.where(hi > lo, hi - lo, 1.0)  # min-max goalposts
    n_area, n_ind = p.shape
    if n_area < 2:
        return pd.DataFrame(columns=["code", "rank_p05", "rank_p50", "rank_p95", "p_top10", "uncertain"])

    rng = np.random.default_rng(mc.seed)
    weights = rng.dirichlet(np.full(n_ind, mc.weight_concentration), size=mc.runs)      # runs x ind
    leave = rng.random(mc.runs) < mc.p_leave_out
    dropped = rng.integers(0, n_ind, size=mc.runs)
    weights[leave, dropped[leave]] = 0.0
    use_goalposts = rng.random(mc.runs) < mc.p_goalposts
    use_geometric = rng.random(mc.runs) < mc.p_geometric

    scores = np.empty((mc.runs, n_area))
    for norm_flag, values in ((False, p), (True, g)):
        present = ~np.isnan(values)
        v = np.nan_to_num(values)
        for geo_flag in (False, True):
            sel = (use_goalposts == norm_flag) & (use_geometric == geo_flag)
            if not sel.any():
                continue
            w = weights[sel]                                                     # r x ind
            wsum = present.astype(float) @ w.T                                   # area x r
            if geo_flag:
                logs = np.log(np.maximum(v, mc.geometric_floor)) * present
                s = np.exp((logs @ w.T) / np.where(wsum > 0, wsum, 1.0))
            else:
                s = (v @ w.T) / np.where(wsum > 0, wsum, 1.0)
            s[wsum <= 0] = np.nan
            scores[sel] = s.T
    # An area with none of a run's indicators ranks in the middle of that run, not at an end.
    scores = np.where(np.isnan(scores), np.nanmedian(scores, axis=1, keepdims=True), scores)
    ranks = _ranks(scores)                                                       # runs x area
    q05, q50, q95 = np.quantile(ranks, [0.05, 0.5, 0.95], axis=0)
    classes = lambda r: np.minimum((r * 5).astype(int), 4)  # noqa: E731 - quintile class 0..4
    return pd.DataFrame({
        "code": codes,
        "rank_p05": q05.round(4), "rank_p50": q50.round(4), "rank_p95": q95.round(4),
        "p_top10": (ranks >= 0.9).mean(axis=0).round(4),
        "uncertain": classes(q95) != classes(q05),
    })
