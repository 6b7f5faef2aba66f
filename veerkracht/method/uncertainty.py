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

import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from veerkracht.method.spec import MethodSpec

#: The four value columns: (normalisation, shrinkage) -> column of core.score_indicator.
VALUE_COLUMNS = {
    ("percentile", True): "percentile_rank",
    ("percentile", False): "percentile_rank_raw",
    ("goalpost", True): "goalpost",
    ("goalpost", False): "goalpost_raw",
}
OUTPUT_COLUMNS = ["code", "rank_p05", "rank_p50", "rank_p95", "p_top10", "uncertain"]
#: Noisy copies of the values when some are carried from an earlier vintage (method v3).
AGE_VARIANTS = 8
#: Runs simulated at once (bounds memory at ~CHUNK_RUNS x areas x 8 bytes per temporary) ...
CHUNK_RUNS = 50
#: ... and at most this many run-area cells per chunk: a chunk holds several temporaries of that
#: size per thread. 30x NL's 321,120 scored buurten: 49 runs a chunk peaked at 2.42 GB, 24 at
#: 1.94 GB in the same time; 6 at 1.50 GB took a third longer (small matrix products).
CHUNK_CELLS = 8_000_000
#: Areas per quantile task (threads; each task partitions its own columns).
QUANTILE_COLUMNS = 2_000


#: Low mantissa bits of a score that are not compared when ranking (more when there are over
#: 2**20 areas, as the area's index is stored there): scores that agree in all other bits (so
#: differ by less than a relative 2**-32) tie.
TIE_BITS = 20
#: The sign bit of a float64 seen as uint64.
_SIGN = np.uint64(1 << 63)


class _Scratch(threading.local):
    """Arrays a thread reuses from one chunk of runs to the next, by name. Fresh arrays of a
    chunk's size (tens of MB) are mapped anew by the allocator each time, and their page faults
    cost more than the arithmetic done in them. An array handed out is valid until the same
    thread asks for the same name again."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        size = math.prod(shape)
        flat = self.arrays.get(name)
        if flat is None or flat.size < size or flat.dtype != dtype:
            flat = self.arrays[name] = np.empty(size, dtype)
        return flat[:size].reshape(shape)


def _sorted_positions(
    scores: np.ndarray, scratch: _Scratch | None = None
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per row the sorting permutation, and the ties: the (row, sorted place) of every place whose
    value equals the one before it, with the first place of its run of equal values. A place's
    rank position (rank-1, ties at the lowest, like percent_rank) is the place itself, or that
    first place where it is tied. ``scores`` (C-contiguous float64) is used up: its memory holds
    the sort keys and then the permutation, which is returned as a view of it.

    One sort of 64-bit keys instead of an argsort (issue 17: numpy sorts plain integers with SIMD,
    argsort not; the sort takes a quarter of the argsort + sort before it): each score's bits,
    mapped so that integer order is float order, with the area's index in the lowest
    :data:`TIE_BITS` bits. The sorted keys give both the permutation (their low bits) and the ties
    (equal high bits). So scores that differ only in those lowest mantissa bits (by less than a
    relative 2**-32; two such on either side of a boundary still rank apart) tie: the same
    inputs summed in another order differ in the last bit (the geometric floor 0.01 comes out
    as 0.01 +- 1e-17 under different weights), and those areas now share a rank instead of
    being ordered by rounding noise.

    Everything is done in place or in ``scratch``: at 30x NL a chunk is 24 x 321,120 keys, and
    fresh arrays of that size cost more in page faults than the sort itself (the keys, the
    permutation and the ties took 0.55 s a chunk against the sort's 0.34 s; in place 0.03 s).
    """
    rows, n = scores.shape
    bits = max(TIE_BITS, int(n - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    keys = scores.view(np.uint64)
    # Non-negative floats (every score; -0.0 included): the sign bit set. Negative ones: all bits
    # flipped (after + 0.0 turns -0.0 into 0.0). Then integer order is float order.
    if scores.min() < 0:
        scores += 0.0
        negative = keys >= _SIGN
        np.invert(keys, out=keys, where=negative)
        np.bitwise_or(keys, _SIGN, out=keys, where=~negative)
    else:
        keys |= _SIGN
    keys &= ~low
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort(axis=1)
    # Neighbours with equal high bits differ only in the low bits: their xor is at most ``low``.
    xor = (scratch or _Scratch()).get("xor", (rows, n - 1), np.uint64)
    np.bitwise_xor(keys[:, 1:], keys[:, :-1], out=xor)
    tie_row, before = np.nonzero(xor <= low)  # the place after ``before`` ties with it
    tied_at = before + 1
    # The first place of each run of equal values: ties share the lowest rank. Runs are found
    # among the (few) tied places only, not by a pass over every place.
    new_run = np.ones(len(before), bool)
    new_run[1:] = (tie_row[1:] != tie_row[:-1]) | (before[1:] != tied_at[:-1])
    run_start = before[new_run][np.cumsum(new_run) - 1]
    keys &= low
    return keys.view(np.intp), (tie_row, tied_at, run_start)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Percentile rank (rank-1)/(N-1) per row, ties at the lowest rank (like percent_rank)."""
    rows, n = np.shape(scores)
    order, (tie_row, tied_at, run_start) = _sorted_positions(np.array(scores, dtype=np.float64))
    pos = np.tile(np.arange(n), (rows, 1))
    pos[tie_row, tied_at] = run_start
    ranks = np.empty((rows, n))
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

    # Method v3: a figure carried from an earlier vintage is a noisier measure of today. Each run
    # uses one of AGE_VARIANTS copies of the values in which every carried cell's value is moved by
    # N(0, (age_rank_noise x age)^2) and clipped to [0, 1] (drawn after every other perturbation,
    # so a spec without carried figures simulates exactly as before).
    age = (
        components.pivot(index="code", columns="indicator", values="age").reindex(columns=indicators)
        if "age" in components
        else None
    )
    noisy = age is not None and mc.age_rank_noise > 0 and bool((age.fillna(0) > 0).any().any())
    n_variants = AGE_VARIANTS if noisy else 1
    variant = rng.integers(0, n_variants, size=mc.runs) if noisy else np.zeros(mc.runs, dtype=int)
    sd = (mc.age_rank_noise * age.fillna(0).to_numpy(dtype=float)) if noisy else None

    matrices = {}
    for (key, frame), k in itertools.product(wide.items(), range(n_variants)):
        values = frame.to_numpy(dtype=float)
        if noisy:
            values = np.clip(values + rng.normal(size=values.shape) * sd, 0, 1)
        present = (~np.isnan(values)).astype(float)
        v = np.nan_to_num(values)
        if spec.within_theme == "geometric":
            v = np.log(np.maximum(v, spec.geometric_floor)) * present
        # Per theme its columns, copied once here rather than in every chunk.
        matrices[(*key, k)] = [
            (cols, v[:, cols], present[:, cols]) for cols in (theme_of == t for t in range(n_theme))
        ]

    # Runs in chunks: memory stays ~chunk_runs x areas floats per worker however many areas there
    # are; the ranks of all runs are kept as uint16 (1/65535 resolution, results are rounded to
    # 1e-4). Chunks run on threads: numpy's sorts and matrix products release the GIL, and each
    # chunk writes its own rows, so the result does not depend on the number of threads.
    ranks16 = np.empty((mc.runs, n_area), dtype=np.uint16)
    chunk_runs = max(1, min(CHUNK_RUNS, CHUNK_CELLS // n_area))
    rank_at = np.arange(n_area) / max(n_area - 1, 1)  # percentile rank of each sorted position
    rank16_at = np.rint(rank_at * 65535).astype(np.uint16)
    first_top = int(np.searchsorted(rank_at, 1 - spec.top_share))  # the first place in the top share

    scratch = _Scratch()

    def run_chunk(start: int) -> np.ndarray:
        chunk = slice(start, min(start + chunk_runs, mc.runs))
        scores = scratch.get("scores", (chunk.stop - chunk.start, n_area))
        for (normalisation, shrink, k), blocks in matrices.items():
            for aggregation in ("arithmetic", "geometric"):
                sel = (
                    (norm[chunk] == normalisation)
                    & (no_shrink[chunk] != shrink)
                    & (across[chunk] == aggregation)
                    & (variant[chunk] == k)
                )
                if sel.any():
                    scores[sel] = _aggregate(
                        blocks,
                        weights[chunk][sel],
                        theme_w[chunk][sel],
                        spec.within_theme,
                        aggregation,
                        spec.geometric_floor,
                        scratch,
                    ).T
        # An area with none of a run's indicators ranks in the middle of that run, not at an end
        # (rare: only runs that leave out an area's only indicator have such areas).
        gaps = np.isnan(scores)
        with_gaps = gaps.any(axis=1)
        if with_gaps.any():
            part = scores[with_gaps]
            scores[with_gaps] = np.where(gaps[with_gaps], np.nanmedian(part, axis=1, keepdims=True), part)
        # Ranks are computed in sorted order and scattered back once, as uint16 (a scatter of
        # 2-byte values costs less than one of floats, and the sorted side is read in order):
        # each sorted place's rank, but a tied place's is that of the first place of its run.
        order, (tie_row, tied_at, run_start) = _sorted_positions(scores, scratch)  # runs x area
        rank16 = scratch.get("rank16", order.shape, np.uint16)
        rank16[:] = rank16_at
        rank16[tie_row, tied_at] = rank16_at[run_start]
        ranks16[chunk][np.arange(order.shape[0])[:, None], order] = rank16
        # In the top share: the areas at the places from first_top on, but for tied places whose
        # run starts before it (they share a rank below the top share).
        in_top = np.bincount(order[:, first_top:].ravel(), minlength=n_area)
        below = (tied_at >= first_top) & (run_start < first_top)
        return in_top - np.bincount(order[tie_row[below], tied_at[below]], minlength=n_area)

    # BLAS on one thread inside each chunk: the chunks already use every core, and OpenBLAS's own
    # threads (one per core by default) beside them made the 30x simulation 35 % slower (37.3 s
    # against 27.7 s for 321,120 areas, measured; the products' sums are over the same few
    # indicators either way, and the results are equal).
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool,
    ):
        in_top = sum(pool.map(run_chunk, range(0, mc.runs, chunk_runs)))
    q05, q50, q95 = np.empty(n_area), np.empty(n_area), np.empty(n_area)

    def quantiles(start: int) -> None:
        cols = slice(start, start + QUANTILE_COLUMNS)
        # Each area's runs in a contiguous row, sorted first: numpy sorts uint16 rows with SIMD, and
        # the quantiles' partition of sorted rows is then nearly free (half the time of
        # np.quantile on the strided columns; the same values).
        runs_of = np.ascontiguousarray(ranks16[:, cols].T)
        runs_of.sort(axis=1)
        q05[cols], q50[cols], q95[cols] = np.quantile(runs_of, [0.05, 0.5, 0.95], axis=1) / 65535

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(quantiles, range(0, n_area, QUANTILE_COLUMNS)))
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
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    w: np.ndarray,
    tw: np.ndarray,
    within: str,
    across: str,
    floor: float,
    scratch: _Scratch,
) -> np.ndarray:
    """Axis values (area x runs) for runs with indicator weights ``w`` and theme weights ``tw``.

    ``blocks``: per theme, its indicator columns (a mask) and its values ``v`` and ``present``
    (1.0 where ``v`` has a value), area x indicator. Computed in place, in the thread's ``scratch``
    (these arrays are areas x runs, and allocating a new one per operation cost more than the
    arithmetic); the result is valid until the thread's next call."""
    shape = (blocks[0][1].shape[0], w.shape[0])
    num, den = scratch.get("num", shape), scratch.get("den", shape)
    num.fill(0.0)
    den.fill(0.0)
    t_den, t_val, has = (
        scratch.get("t_den", shape),
        scratch.get("t_val", shape),
        scratch.get("has", shape, bool),
    )
    for t, (cols, v, present) in enumerate(blocks):
        wt = w[:, cols].T
        np.matmul(present, wt, out=t_den)  # area x runs
        np.greater(t_den, 0, out=has)
        # Where a theme has no weighted value, t_val is 0 already: v is 0 where absent.
        np.matmul(v, wt, out=t_val)
        np.divide(t_val, t_den, out=t_val, where=has)
        if within == "geometric":
            np.exp(t_val, out=t_val)
        if across == "geometric":
            np.log(np.maximum(t_val, floor, out=t_val), out=t_val)
        theme_weight = np.broadcast_to(tw[None, :, t], t_val.shape)
        np.add(num, np.multiply(t_val, theme_weight, out=t_val), out=num, where=has)
        np.add(den, theme_weight, out=den, where=has)
    scored = np.greater(den, 0, out=has)
    np.divide(num, den, out=num, where=scored)
    if across == "geometric":
        np.exp(num, out=num)
    num[np.logical_not(scored, out=scored)] = np.nan
    return num


def _other(value: str, pair: tuple[str, str]) -> str:
    return pair[1] if value == pair[0] else pair[0]
