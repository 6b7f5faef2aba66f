"""Crosswalks between two years' boundaries, and carrying values across them.

Belongs here: the overlay of two boundary sets (shapely's STRtree and vectorised GEOS
intersections, all in EPSG:28992), the weights, and the carrying of count and rate indicators
from one year's areas onto another's. Reading geometries lives in :mod:`veerkracht.geometry`.

Weights. For source area s and target area t with overlap ``a(s∩t)``:

* ``weight_area = a(s∩t) / Σ_t' a(s∩t')`` -- the share of s (as far as the target set covers
  it) that lies in t; sums to 1 over the targets of each source.
* ``weight_pop`` -- the same with each piece weighted by the target's population density
  (a dasymetric estimate: people live where the target year says they live). Only where every
  target of the source has an inhabitant count: one target without a count would get its area
  weight while the others share the whole of 1, so the weights would sum to more than 1. Such
  sources (and sources whose targets have no inhabitants at all) keep their area weights.
* ``coverage_source = a(s ∩ ∪_t t) / a(s)`` -- how much of s the target set covers at all. The
  union matters: boundary sets drawn at different generalisations overlap their neighbours, and
  a plain sum of the overlaps can exceed the source's area.

Slivers: boundary sets drawn at different generalisations (the 2024 buurten are an approximate
reconstruction) overlap their neighbours by thin slivers. Pieces smaller than
``min_share`` of both the source and the target are dropped before the weights are formed, and
a source whose piece with the same code is the same polygon (IoU >= 0.999) or holds
``same_code_share`` of it is treated as unchanged (1:1, weight 1), as CBS does for boundary
moves under about 5 m.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from veerkracht.geo import RD_NEW
from veerkracht.geo.geometry import add_areas_to


def input_key(
    source: gpd.GeoDataFrame, target: gpd.GeoDataFrame, target_population: pd.Series | None, *, code: str
) -> str:
    """What a crosswalk is computed from: both layers' codes, CRS and geometries (WKB), the
    target's inhabitants and the code that computes it (``code``: the assets' code version, which
    covers this module and the libraries that overlay). Equal keys give equal crosswalks, so a
    stored crosswalk with the same key need not be recomputed; new code computes it again."""
    digest = hashlib.sha256(f"code {code}|".encode())
    for layer in (source, target):
        digest.update(f"{layer.crs}|".encode())
        add_areas_to(digest, layer)
        if "geometry_source" in layer:  # stored with the boundaries (core.boundary)
            digest.update("\0".join(layer["geometry_source"].fillna("")).encode())
    if target_population is not None:
        digest.update(pd.util.hash_pandas_object(target_population.sort_index()).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def crosswalk(
    source: gpd.GeoDataFrame,
    target: gpd.GeoDataFrame,
    *,
    min_share: float = 0.02,
    same_code_share: float = 0.9,
    target_population: pd.Series | None = None,
) -> pd.DataFrame:
    """Crosswalk (source_code, target_code, weights, overlap) from two layers with a ``code`` column."""
    if source.crs is None or target.crs is None:
        raise ValueError("Both layers need a CRS")
    # Areas whose boundary is unknown (NULL polygon, geometry_source 'no_boundary:…') cannot be
    # overlaid: they are left out, so they get no crosswalk row rather than a wrong one.
    src = source[source.geometry.notna()].to_crs(RD_NEW).reset_index(drop=True)
    tgt = target[target.geometry.notna()].to_crs(RD_NEW).reset_index(drop=True)
    tree = shapely.STRtree(tgt.geometry.values)
    tgt_area = shapely.area(tgt.geometry.values)
    # Sources and targets by row number from here on, and every code of both layers by its place
    # among their sorted codes (factorised once): grouping, matching and sorting the pieces work
    # on integers, not on the Arrow strings of every piece (measured, alternating in one process:
    # 30x NL's 1.46 million pieces 14.1-14.2 -> 13.1-13.3 s; NL's four overlays 2.8-3.4 s either
    # way). Sorted, as pandas numbers string groups: its group sums then add in the same order,
    # and every weight comes out the same to the last bit.
    for layer, name in ((src, "source"), (tgt, "target")):
        if layer["code"].isna().any():
            raise ValueError(f"The {name} layer has areas without a code: they cannot be crosswalked")
    ids, codes = pd.factorize(pd.concat([src["code"], tgt["code"]], ignore_index=True), sort=True)
    code_ids = CodeIds(ids[: len(src)], ids[len(src) :], len(codes))
    # Everything below is per source area (its pieces, weights, coverage, unchanged flag), so the
    # sources are overlaid in chunks: the same rows, with the pieces of one chunk in memory at a
    # time (at 450,000 buurten all pieces at once were the bench's peak memory).
    parts = [
        _from_sources(
            src.iloc[a : a + SOURCE_CHUNK], a, code_ids, tgt, tree, tgt_area, min_share, same_code_share
        )
        for a in range(0, max(len(src), 1), SOURCE_CHUNK)
    ]
    cw = pd.concat(parts, ignore_index=True)
    by_source = code_ids.source[cw["source"].to_numpy()]
    if target_population is not None:
        people = tgt["code"].map(target_population).to_numpy(dtype=float, na_value=np.nan)
        density = pd.Series(people[cw["target"].to_numpy()]) / cw["target_area_m2"]
        est = cw["overlap_m2"] * density
        total = est.groupby(by_source).transform("sum")
        complete = est.notna().groupby(by_source).transform("all") & (total > 0)
        cw["weight_pop"] = (est / total).where(complete, cw["weight_area"])
    else:
        cw["weight_pop"] = cw["weight_area"]
    # Sorted by source and target code: their places among the sorted codes.
    order = np.lexsort((code_ids.target[cw["target"].to_numpy()], by_source))
    cw = cw.take(order)
    out = pd.DataFrame(
        {
            "source_code": src["code"].array.take(cw["source"].to_numpy()),
            "target_code": tgt["code"].array.take(cw["target"].to_numpy()),
        }
    )
    for col in ["weight_area", "weight_pop", "overlap_m2", "coverage_source", "unchanged"]:
        out[col] = cw[col].to_numpy()
    return out


#: Source areas overlaid at a time (see :func:`crosswalk`); NL has 14,574 buurten: one chunk.
SOURCE_CHUNK = 100_000


class CodeIds(NamedTuple):
    """The code of every source and target row as its place among both layers' sorted codes."""

    source: np.ndarray
    target: np.ndarray
    n: int


def _from_sources(
    src, first: int, code_ids: CodeIds, tgt, tree, tgt_area, min_share: float, same_code_share: float
) -> pd.DataFrame:
    """The crosswalk rows of the source areas ``src`` (a chunk, from row ``first`` of all sources),
    before population weights: ``source`` and ``target`` (row numbers) and the pieces' areas,
    coverage, weights and unchanged flag."""
    # The query's predicate tests release the GIL too (0.68 -> 0.34 s for 160,000 buurten on two
    # cores); each source's pairs do not depend on the split.
    geoms = src.geometry.values

    def query(part: slice) -> np.ndarray:
        pairs = tree.query(geoms[part], predicate="intersects")
        pairs[0] += part.start
        return pairs.T

    i_src, i_tgt = _on_threads(query, len(geoms)).T
    pieces = _on_threads(
        lambda part: shapely.intersection(geoms[i_src[part]], tgt.geometry.values[i_tgt[part]]), len(i_src)
    )
    area = shapely.area(pieces)
    s_area, t_area = shapely.area(geoms)[i_src], tgt_area[i_tgt]
    keep = area > 0
    keep &= (area / s_area >= min_share) | (area / t_area >= min_share)
    piece, i_src, i_tgt = np.flatnonzero(keep), i_src[keep], i_tgt[keep]
    cw = pd.DataFrame(
        {
            "source": i_src + first,
            "target": i_tgt,
            "overlap_m2": area[keep],
            "source_area_m2": s_area[keep],
            "target_area_m2": t_area[keep],
        }
    )
    g = code_ids.source[i_src + first]  # each piece's source, as a group of its code
    cw["coverage_source"] = _coverage(cw, g, pieces[piece], code_ids.n)

    # Unchanged areas: same code, and either the same polygon (IoU ~ 1, even where the layer's
    # own neighbours overlap it) or that target takes nearly all of the source.
    same_code = g == code_ids.target[i_tgt]
    overlap = cw["overlap_m2"]
    iou = overlap / (cw["source_area_m2"] + cw["target_area_m2"] - overlap)
    share = overlap / overlap.groupby(g).transform("sum")
    same = same_code & ((iou >= 0.999) | (share >= same_code_share)).to_numpy()
    unchanged = np.zeros(code_ids.n, dtype=bool)
    unchanged[g[same]] = True
    kept = ~unchanged[g] | same
    cw, g = cw[kept].reset_index(drop=True), g[kept]

    cw["weight_area"] = cw["overlap_m2"] / cw["overlap_m2"].groupby(g).transform("sum")
    cw["unchanged"] = unchanged[g]
    return cw


def _coverage(cw: pd.DataFrame, g: np.ndarray, pieces: np.ndarray, n: int) -> np.ndarray:
    """Share of each source's area covered by the union of its pieces (at most 1), per row of
    ``cw`` (``g``: each row's source group, one of ``n``; ``pieces``: each row's polygon).

    Pieces whose bounding boxes do not overlap cannot overlap, so the union's area is the sum of
    their areas; only sources with two pieces whose boxes overlap are unioned (the targets of a
    clean boundary set never overlap: at 30x NL's buurten the unions took half the crosswalk).
    """
    overlap = cw["overlap_m2"].to_numpy()
    several = np.bincount(g, minlength=n)[g] > 1  # rows of sources with more than one piece
    multi = np.flatnonzero(several)
    order = multi[np.argsort(g[multi], kind="stable")]
    group = g[order]
    box = shapely.bounds(pieces[order])  # xmin, ymin, xmax, ymax
    overlapping = np.zeros(n, dtype=bool)
    # Each pair of pieces of one source once: rows d apart, for every d up to the largest source.
    for d in range(1, int(np.bincount(group).max(initial=1))):
        same = group[d:] == group[:-d]
        a, b = box[:-d], box[d:]
        hit = same & (b[:, 0] < a[:, 2]) & (a[:, 0] < b[:, 2]) & (b[:, 1] < a[:, 3]) & (a[:, 1] < b[:, 3])
        overlapping[group[d:][hit]] = True
    # Per source: the summed area of its pieces, replaced by their union's where boxes overlap.
    per_source = np.bincount(group, weights=overlap[order], minlength=n)
    start = np.searchsorted(group, np.arange(n + 1))  # source s's rows: start[s]:start[s + 1]
    unions = [order[start[s] : start[s + 1]] for s in np.flatnonzero(overlapping)]
    areas = _on_threads(
        lambda part: np.array([shapely.area(shapely.union_all(pieces[rows])) for rows in unions[part]]),
        len(unions),
    )
    per_source[overlapping] = areas
    covered = np.where(several, per_source[g], overlap)
    # The union lies inside the source; clip only float noise.
    return np.minimum(covered / cw["source_area_m2"].to_numpy(), 1.0)


def _on_threads(fn, n: int) -> np.ndarray:
    """``fn(slice)`` over ``n`` items in one part per core, concatenated in order. GEOS releases
    the GIL, so the overlay's intersections and unions run in parallel; each item's result does
    not depend on the split."""
    workers = max(1, min(os.cpu_count() or 1, 8, n // 500))
    bounds = np.linspace(0, n, workers + 1).astype(int)
    parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if len(parts) == 1:
        return np.asarray(fn(parts[0]))
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        return np.concatenate(list(pool.map(fn, parts)))


def carry(
    values: pd.DataFrame,
    cw: pd.DataFrame,
    *,
    kind: str,
    weight: str = "weight_area",
    denominator: pd.Series | None = None,
    target_area: pd.Series | None = None,
) -> pd.DataFrame:
    """Carry one indicator from source areas onto target areas.

    ``values``: columns ``code`` and ``value`` (source areas; NULL values are skipped, never 0).
    ``kind="count"``: target = Σ value_s · w(s→t). ``kind="rate"``: target = the mean of the
    source rates weighted by their denominators carried along, Σ r_s·d_s·w / Σ d_s·w
    (``denominator``: a Series by source code, e.g. inhabitants for a per-1,000 rate).
    Returns ``target_code, value, n_sources`` and ``covered_share``, the share of the target's
    area that sources with a value cover (when ``target_area`` is given).
    """
    if kind not in ("count", "rate"):
        raise ValueError(f"kind must be 'count' or 'rate', not {kind!r}")
    v = values.dropna(subset=["value"]).set_index("code")["value"]
    m = cw[cw["source_code"].isin(v.index)].copy()
    m["w"] = m[weight]
    m["v"] = m["source_code"].map(v)
    if kind == "count":
        m["num"] = m["v"] * m["w"]
        out = m.groupby("target_code").agg(value=("num", "sum"), n_sources=("source_code", "nunique"))
    else:
        if denominator is None:
            raise ValueError("A rate needs a denominator per source area (e.g. inhabitants)")
        m["d"] = m["source_code"].map(denominator) * m["w"]
        m = m[m["d"].notna() & (m["d"] > 0)]
        m["num"] = m["v"] * m["d"]
        g = m.groupby("target_code")
        out = pd.DataFrame({"value": g["num"].sum() / g["d"].sum(), "n_sources": g["source_code"].nunique()})
    if target_area is not None:
        out["covered_share"] = (
            m.groupby("target_code")["overlap_m2"].sum() / out.index.map(target_area)
        ).clip(upper=1)
    return out.reset_index()
