"""Monte Carlo uncertainty of the score: how much an area's rank depends on the method's choices.

Belongs here: the simulation over one level's normalised indicators (numpy, vectorised over
runs). Each run draws its own variant of the spec's method (the perturbations and their
probabilities are in the spec's ``[uncertainty]`` table):

- indicator and theme weights from Dirichlet distributions centred on the spec's weights;
- with probability ``p_leave_out`` one indicator left out;
- the other normalisation (goalposts instead of percentile ranks, or back);
- no shrinkage of small-area rates;
- the other aggregation across themes (arithmetic instead of geometric, or back).

The run's kwetsbaarheid is ranked among the level's scored areas. Per area we report the
median percentile rank, the 5-95 % interval, the probability of being in the top decile, and
``uncertain`` when the interval spans more than one quintile class (it crosses a class
boundary). Seeded (``numpy.random.default_rng``): same inputs, spec and seed give bit-identical
results.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from veerkracht.method.spec import MethodSpec

#: The four value columns: (normalisation, shrinkage) -> column of core.score_indicator.
VALUE_COLUMNS = {
    ("percentile", True): "percentile_rank",
    ("percentile", False): "percentile_rank_raw",
    ("goalpost", True): "goalpost",
    ("goalpost", False): "goalpost_raw",
}
OUTPUT_COLUMNS = ["code", "rank_p05", "rank_p50", "rank_p95", "p_top10", "uncertain"]
#: Runs simulated at once (bounds memory at ~CHUNK_RUNS x areas x 8 bytes per temporary).
CHUNK_RUNS = 50


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Percentile rank (rank-1)/(N-1) per row, ties at the lowest rank (like percent_rank)."""
    n = scores.shape[1]
    # Ties are resolved from the sorted values below, so the sort need not be stable (faster).
    order = np.argsort(scores, axis=1)
    sorted_vals = np.take_along_axis(scores, order, axis=1)
    # The lowest position of each run of equal values: ties share the lowest rank.
    first = np.ones_like(sorted_vals, dtype=bool)
    first[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    pos = np.where(first, np.arange(n)[None, :], 0)
    pos = np.maximum.accumulate(pos, axis=1)
    ranks = np.empty_like(scores)
    np.put_along_axis(ranks, order, pos / max(n - 1, 1), axis=1)
    return ranks


def simulate(components: pd.DataFrame, spec: MethodSpec) -> pd.DataFrame:
    """Rank intervals for the scored areas of one level.

    ``components``: long rows ``code, theme, indicator`` and the four value columns of
    :data:`VALUE_COLUMNS` (higher = more vulnerable), for the complete themes of scored areas.
    """
    mc = spec.uncertainty
    if components["code"].nunique() < 2:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    indicators = sorted(components["indicator"].unique())
    by_name = {i.name: i for i in spec.indicators}
    themes = sorted({by_name[i].theme for i in indicators})
    theme_of = np.array([themes.index(by_name[i].theme) for i in indicators])
    base_w = np.array([by_name[i].weight for i in indicators])
    base_tw = np.array([next(t.weight for t in spec.themes if t.name == name) for name in themes])
    wide = {
        key: components.pivot(index="code", columns="indicator", values=col).reindex(columns=indicators)
        for key, col in VALUE_COLUMNS.items()
    }
    codes = wide[("percentile", True)].index.to_numpy()
    n_area, n_ind, n_theme = len(codes), len(indicators), len(themes)

    rng = np.random.default_rng(mc.seed)
    conc = mc.weight_concentration
    weights = rng.dirichlet(conc * n_ind * base_w / base_w.sum(), size=mc.runs) * n_ind  # runs x ind
    theme_w = rng.dirichlet(conc * n_theme * base_tw / base_tw.sum(), size=mc.runs) * n_theme  # runs x theme
    leave = rng.random(mc.runs) < mc.p_leave_out
    dropped = rng.integers(0, n_ind, size=mc.runs)
    weights[leave, dropped[leave]] = 0.0
    other_norm = rng.random(mc.runs) < mc.p_other_normalisation
    no_shrink = rng.random(mc.runs) < mc.p_no_shrinkage
    other_agg = rng.random(mc.runs) < mc.p_other_aggregation
    norm = np.where(other_norm, _other(spec.normalisation, ("percentile", "goalpost")), spec.normalisation)
    across = np.where(other_agg, _other(spec.across_themes, ("arithmetic", "geometric")), spec.across_themes)

    matrices = {}
    for key, frame in wide.items():
        values = frame.to_numpy(dtype=float)
        present = ~np.isnan(values)
        v = np.nan_to_num(values)
        if spec.within_theme == "geometric":
            v = np.log(np.maximum(v, spec.geometric_floor)) * present
        matrices[key] = (v, present)

    # Runs in chunks: memory stays ~CHUNK_RUNS x areas floats per worker however many areas there
    # are; the ranks of all runs are kept as uint16 (1/65535 resolution, results are rounded to
    # 1e-4). Chunks run on threads: numpy's sorts and matrix products release the GIL, and each
    # chunk writes its own rows, so the result does not depend on the number of threads.
    ranks16 = np.empty((mc.runs, n_area), dtype=np.uint16)

    def run_chunk(start: int) -> np.ndarray:
        chunk = slice(start, min(start + CHUNK_RUNS, mc.runs))
        scores = np.empty((chunk.stop - chunk.start, n_area))
        for (normalisation, shrink), (v, present) in matrices.items():
            for aggregation in ("arithmetic", "geometric"):
                sel = (
                    (norm[chunk] == normalisation)
                    & (no_shrink[chunk] != shrink)
                    & (across[chunk] == aggregation)
                )
                if sel.any():
                    scores[sel] = _aggregate(
                        v,
                        present,
                        weights[chunk][sel],
                        theme_w[chunk][sel],
                        theme_of,
                        n_theme,
                        spec.within_theme,
                        aggregation,
                        spec.geometric_floor,
                    ).T
        # An area with none of a run's indicators ranks in the middle of that run, not at an end.
        scores = np.where(np.isnan(scores), np.nanmedian(scores, axis=1, keepdims=True), scores)
        ranks = _ranks(scores)  # runs x area
        ranks16[chunk] = np.rint(ranks * 65535).astype(np.uint16)
        return (ranks >= 1 - spec.top_share).sum(axis=0)

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        in_top = sum(pool.map(run_chunk, range(0, mc.runs, CHUNK_RUNS)))
    q05, q50, q95 = np.empty(n_area), np.empty(n_area), np.empty(n_area)
    for start in range(0, n_area, 20_000):
        cols = slice(start, start + 20_000)
        q05[cols], q50[cols], q95[cols] = np.quantile(ranks16[:, cols], [0.05, 0.5, 0.95], axis=0) / 65535
    n_classes = spec.quantiles

    def classes(r):
        return np.minimum((r * n_classes + 1e-9).astype(int), n_classes - 1)

    return pd.DataFrame(
        {
            "code": codes,
            "rank_p05": q05.round(4),
            "rank_p50": q50.round(4),
            "rank_p95": q95.round(4),
            "p_top10": (in_top / mc.runs).round(4),
            "uncertain": classes(q95) != classes(q05),
        }
    )


def _aggregate(
    v: np.ndarray,
    present: np.ndarray,
    w: np.ndarray,
    tw: np.ndarray,
    theme_of: np.ndarray,
    n_theme: int,
    within: str,
    across: str,
    floor: float,
) -> np.ndarray:
    """Axis values (area x runs) for runs with indicator weights ``w`` and theme weights ``tw``."""
    num = np.zeros((v.shape[0], w.shape[0]))
    den = np.zeros_like(num)
    for t in range(n_theme):
        cols = theme_of == t
        t_den = present[:, cols].astype(float) @ w[:, cols].T  # area x runs
        t_val = (v[:, cols] @ w[:, cols].T) / np.where(t_den > 0, t_den, 1.0)
        if within == "geometric":
            t_val = np.exp(t_val)
        has = t_den > 0
        t_val = np.log(np.maximum(t_val, floor)) if across == "geometric" else t_val
        num += np.where(has, t_val * tw[None, :, t], 0.0)
        den += np.where(has, tw[None, :, t], 0.0)
    out = num / np.where(den > 0, den, 1.0)
    out = np.exp(out) if across == "geometric" else out
    return np.where(den > 0, out, np.nan)


def _other(value: str, pair: tuple[str, str]) -> str:
    return pair[1] if value == pair[0] else pair[0]
