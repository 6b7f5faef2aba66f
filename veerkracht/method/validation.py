"""Does the score find the places that independent measurements call vulnerable?

Belongs here: external criteria (tables of area code, year, level, value and direction), matching
them to scored areas by code, and the measures per criterion, level and score year — Spearman's
rho with a bootstrap 95 % interval, and the share of the criterion's worst decile (weighted by
inhabitants) that the score puts in its top decile and top quintile — for the headline score,
every theme and every indicator, so a composite weaker than its parts shows. No dagster here;
``assets/validation.py`` runs it, ``sql/validation_subjects.sql`` gives what is measured.

A criterion file is a CSV with the columns ``code, year, level, criterion, value, direction``
(``direction`` 1: a higher value is more vulnerable, -1: a lower one). The shipped ones are in
``data/validation/``; a user adds one by dropping a CSV there or naming it in the run config.

Fitting guard: gemeenten are split in two fixed halves (:func:`half`), balanced by size: the
shipped table ``data/validation/halves/gemeenten.csv`` sorts every gemeente of the embedded years
by inhabitants and puts one of each consecutive pair in each half, the pair's order decided by a
hash of the codes (no choice of ours decides who is in which half, and each half has its share of
the large cities). Gemeenten the table does not list fall back to the hash alone. Method choices
are made on ``decide`` and reported on ``report``.

Intervals respect clustering: wijken and buurten of one gemeente are not independent, so the
bootstrap resamples whole gemeenten (:func:`cluster_counts`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from veerkracht import warehouse

CRITERION_COLUMNS = ["code", "year", "level", "criterion", "value", "direction"]
#: Optional: the area's name in the criterion's year. Where given, a code whose name differs from
#: the one CBS gives it in the nearest later year is left out (the code was reused for another area).
OPTIONAL_COLUMNS = ["name"]
#: Criteria that restate one of the score's own inputs: measured and shown, marked, and left out of
#: the summaries (a score agrees with its own input by construction).
INPUT_DUPLICATES = {
    "kwb_inkomen_per_inwoner": "the income theme's indicator inkomen_per_inwoner is this KWB figure",
    "scp_perc_ao": "the indicator ao_per_1000 counts the same disability benefits (KWB, per inhabitant)",
}
#: The primary criterion: what this product means by vulnerable residents, as the mean percentile
#: rank of five SCP measures (bijstand households, problematic debt, parents on psychiatric
#: medication, disability, single parents), for wijken with at least 3 of them.
PRIMARY = "scp_primary_mean_rank"
PRIMARY_PARTS = ("scp_perc_hhbijs", "scp_perc_hhverd", "scp_perc_ouderpsy", "scp_perc_ao", "scp_perc_1ouder")
#: Bootstrap resamples and seed of the rho interval (fixed: the numbers in docs are reproducible).
BOOTSTRAP = 1000
SEED = 20260
HALVES = ("decide", "report")
#: Fewer matched areas than this give no measures (Utrecht 2023's 10 wijken, say).
MIN_AREAS = 30


class CriterionError(ValueError):
    """A criterion file that cannot be used, with what is wrong."""


def hash_half(gemeente_code: str) -> str:
    """``decide`` or ``report`` by the first byte of SHA-256 of the code (even = decide)."""
    return HALVES[hashlib.sha256(gemeente_code.encode()).digest()[0] % 2]


#: The fixed, size-balanced split (see the module docstring; ``make_halves`` wrote it).
HALVES_FILE = Path(__file__).resolve().parents[2] / "data" / "validation" / "halves" / "gemeenten.csv"


@functools.lru_cache(maxsize=1)
def _halves_table() -> dict[str, str]:
    if not HALVES_FILE.is_file():
        return {}
    rows = pd.read_csv(HALVES_FILE, dtype=str, comment="#")
    return dict(zip(rows["code"], rows["half"], strict=True))


def half(gemeente_code: str) -> str:
    """The fixed half of a gemeente: ``decide`` or ``report`` (the shipped size-balanced table,
    else :func:`hash_half`). Documented in docs/validation.md; never tuned."""
    return _halves_table().get(gemeente_code) or hash_half(gemeente_code)


def make_halves(inhabitants: pd.Series) -> pd.DataFrame:
    """The size-balanced split of the gemeenten ``inhabitants`` (by code): sorted by inhabitants
    (largest first), consecutive pairs, in each pair the code whose SHA-256 is smaller goes to
    ``decide`` (an odd last one: :func:`hash_half`)."""
    order = inhabitants.sort_values(ascending=False, kind="stable")
    rows = []
    codes = list(order.index)
    for i in range(0, len(codes), 2):
        pair = codes[i : i + 2]
        if len(pair) == 1:
            rows.append((pair[0], hash_half(pair[0])))
            continue
        first, second = sorted(pair, key=lambda c: hashlib.sha256(c.encode()).digest())
        rows += [(first, "decide"), (second, "report")]
    out = pd.DataFrame(rows, columns=["code", "half"])
    out["inwoners"] = out["code"].map(inhabitants).astype("int64")
    out["stratum"] = np.arange(len(out)) // 2 + 1
    return out[["code", "inwoners", "stratum", "half"]]


def read_criteria(path: Path) -> pd.DataFrame:
    """One criterion file in long form, checked (columns, levels, directions, numbers)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"code": str, "level": str, "criterion": str})
    except (OSError, ValueError) as exc:
        raise CriterionError(f"{path}: unreadable ({exc})") from exc
    missing = [c for c in CRITERION_COLUMNS if c not in frame]
    if missing:
        raise CriterionError(f"{path}: missing column(s) {missing}; expected {', '.join(CRITERION_COLUMNS)}")
    bad_level = sorted(set(frame["level"]) - {"gemeente", "wijk", "buurt"})
    if bad_level:
        raise CriterionError(f"{path}: level must be gemeente, wijk or buurt, not {bad_level}")
    bad_dir = sorted(set(frame["direction"]) - {1, -1})
    if bad_dir:
        raise CriterionError(f"{path}: direction must be 1 or -1, not {bad_dir}")
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["source"] = path.name
    optional = [c for c in OPTIONAL_COLUMNS if c in frame]
    return frame[[*CRITERION_COLUMNS, *optional, "source"]].dropna(subset=["value"])


def load_criteria(paths: list[Path]) -> pd.DataFrame:
    """Every criterion of the given files and folders (``*.csv`` in a folder)."""
    files = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    frames = [read_criteria(f) for f in files]
    if not frames:
        return pd.DataFrame(columns=[*CRITERION_COLUMNS, "source"])
    out = pd.concat(frames, ignore_index=True)
    return pd.concat([out, primary_criterion(out)], ignore_index=True)


def primary_criterion(criteria: pd.DataFrame) -> pd.DataFrame:
    """:data:`PRIMARY` from the five SCP criteria: per wijk the mean of their percentile ranks
    (each oriented: higher = more vulnerable), where at least 3 are published."""
    parts = criteria[criteria["criterion"].isin(PRIMARY_PARTS)]
    if parts.empty:
        return parts
    oriented = parts.assign(v=parts["value"] * parts["direction"])
    oriented["r"] = oriented.groupby("criterion")["v"].rank(pct=True)
    keys = ["code", "year", "level"]
    per_area = oriented.groupby(keys).agg(value=("r", "mean"), k=("r", "count"), source=("source", "first"))
    if "name" in parts:
        per_area["name"] = oriented.groupby(keys)["name"].first()
    per_area = per_area[per_area["k"] >= 3].drop(columns="k").reset_index()
    return per_area.assign(criterion=PRIMARY, direction=1)


def kwb_income_criteria(con: duckdb.DuckDBPyConnection, year: int = 2021) -> pd.DataFrame:
    """KWB ``year``'s income and benefit figures per gemeente and wijk as criteria (for scores of
    other years, which lack them: does a score without income still find the low-income areas?)."""
    rows = warehouse.query(con, "report/kwb_income_criteria", year=year)
    return rows.assign(source=f"KWB {year} (embedded)")[[*CRITERION_COLUMNS, "source"]]


def gemeente_criteria(criteria: pd.DataFrame, inhabitants: pd.Series) -> pd.DataFrame:
    """Gemeente-level criteria from wijk-level ones that have no gemeente figure of their own (SCP):
    per gemeente (the ``GMgggg`` in the wijk code ``WKggggww``) the mean of its wijken's values
    weighted by their inhabitants (``inhabitants``: by wijk code, e.g. KWB 2021), over the wijken
    with both; with the primary criterion of those."""
    wijk = criteria[(criteria["level"] == "wijk") & ~criteria["source"].str.startswith("KWB")]
    wijk = wijk[wijk["criterion"] != PRIMARY]
    w = wijk["code"].map(inhabitants)
    wijk = wijk.assign(w=w, gm="GM" + wijk["code"].str[2:6])[w.notna() & (w > 0)]
    if wijk.empty:
        return wijk.drop(columns=["w", "gm"])
    keys = ["gm", "year", "criterion", "direction", "source"]
    out = (
        wijk.assign(vw=wijk["value"] * wijk["w"])
        .groupby(keys, as_index=False)
        .agg(vw=("vw", "sum"), w=("w", "sum"))
    )
    out = out.assign(
        code=out["gm"],
        level="gemeente",
        value=out["vw"] / out["w"],
        source=out["source"] + " (wijken, weighted)",
    )[CRITERION_COLUMNS + ["source"]]
    return pd.concat([out, primary_criterion(out)], ignore_index=True)


def kwb_buurt_criteria(truth: pd.DataFrame, year: int = 2021) -> pd.DataFrame:
    """The KWB ``year`` buurt figures of the embedded buurt file (9 gemeenten; see
    :func:`veerkracht.method.residents.load_buurt_truth`) as buurt-level criteria: low-income and
    social-minimum shares of households, bijstand recipients per 1,000 inhabitants."""
    t = truth.assign(bijstand_per_1000=1000 * truth["bijstand"] / truth["inwoners"])
    parts = [
        ("kwb_buurt_laag_inkomen_pct", "laag_inkomen"),
        ("kwb_buurt_sociaal_minimum_pct", "sociaal_minimum"),
        ("kwb_buurt_bijstand_per_1000", "bijstand_per_1000"),
    ]
    rows = [
        pd.DataFrame(
            {
                "code": t["code"],
                "year": year,
                "level": "buurt",
                "criterion": name,
                "value": t[col],
                "direction": 1,
            }
        )
        for name, col in parts
    ]
    out = pd.concat(rows, ignore_index=True).dropna(subset=["value"])
    return out.assign(source=f"KWB {year} buurten, 9 gemeenten (embedded)")


def _average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``a`` (no NaN), ties at their average: pandas' ``rank()``, in numpy (a
    validation ranks thousands of subjects, and a Series per call cost more than the ranking)."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = s[1:] != s[:-1]
    start = np.flatnonzero(new)  # first place of each run of equal values
    end = np.append(start[1:], len(a)) - 1  # last place
    ranks = np.empty(len(a))
    ranks[order] = np.repeat((start + end) / 2 + 1, end - start + 1)
    return ranks


def _top_places(a: np.ndarray) -> np.ndarray:
    """Place 1..n of ``a`` from the highest, ties in order of appearance: pandas'
    ``rank(method="first", ascending=False)``."""
    places = np.empty(len(a))
    places[np.argsort(-a, kind="stable")] = np.arange(1, len(a) + 1)
    return places


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties)."""
    return _rho_of_ranks(_average_ranks(np.asarray(x, float)), _average_ranks(np.asarray(y, float)))


def _rho_of_ranks(rx: np.ndarray, ry: np.ndarray) -> float:
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@functools.lru_cache(maxsize=64)
def _resample_counts(n: int, runs: int, seed: int) -> np.ndarray:
    """How often each of ``n`` pairs is drawn in each of ``runs`` resamples (runs x n, uint8): the
    draws of ``rng.integers(0, n, (runs, n))``, counted. Every subject measured on the same ``n``
    areas shares them, so they are drawn once per ``n`` (kept small: ~3 MB for 3,000 wijken)."""
    idx = np.random.default_rng(seed).integers(0, n, size=(runs, n))
    counts = np.bincount((idx + np.arange(runs)[:, None] * n).ravel(), minlength=runs * n)
    # A pair drawn more than 255 times in one resample of 30+ pairs does not happen (p < 1e-300).
    return counts.reshape(runs, n).astype(np.uint8)


class ClusterDraws:
    """The bootstrap's resamples of whole clusters (gemeenten): ``runs`` draws of as many
    clusters as ``universe`` holds, with replacement, counted per cluster. Every subject and
    criterion measured on areas of these clusters shares them, so differences between subjects
    (and means over criteria) are paired."""

    def __init__(self, universe, runs: int = BOOTSTRAP, seed: int = SEED):
        self.index = {c: i for i, c in enumerate(sorted(set(universe)))}
        g = max(len(self.index), 1)
        draws = np.random.default_rng(seed).integers(0, g, size=(runs, g))
        self.per_cluster = (
            np.bincount((draws + np.arange(runs)[:, None] * g).ravel(), minlength=runs * g)
            .reshape(runs, g)
            .astype(float)  # float64: what the products with ranks use
        )

    def counts(self, clusters) -> np.ndarray:
        """How often each area (by its cluster) is drawn in each resample (runs x areas)."""
        return self.per_cluster[:, [self.index[c] for c in clusters]]

    def resamples(self, clusters) -> Resamples:
        """The same resamples of areas labelled ``clusters``, as sums per cluster (no runs x areas
        matrix): what :func:`resampled_rho` and :func:`resampled_capture` need."""
        return Resamples(self.per_cluster, self.ids(clusters))

    def ids(self, clusters, missing: int | None = None) -> np.ndarray:
        """Each label's cluster number (what :class:`Resamples` takes); a label not drawn from is
        an error, or ``missing`` when given."""
        if missing is None:
            return np.fromiter((self.index[c] for c in clusters), np.intp, count=len(clusters))
        return np.fromiter((self.index.get(c, missing) for c in clusters), np.intp, count=len(clusters))


class Resamples:
    """Cluster-bootstrap resamples of ``n`` areas without a runs x areas count matrix. An area is
    drawn as often as its cluster, so a resample's sum of any per-area value is the cluster
    draws (runs x clusters) times the value's sum per cluster: a product over the gemeenten
    (~350) instead of the areas (~3,000 wijken, 14,000 buurten), the same numbers."""

    def __init__(self, per_cluster: np.ndarray, cluster: np.ndarray):
        self.per_cluster = np.asarray(per_cluster, dtype=float)
        self.cluster = cluster

    def __matmul__(self, values: np.ndarray) -> np.ndarray:
        """``counts @ values`` (values: areas, or areas x k) as the count matrix would give it."""
        values = np.asarray(values, dtype=float)
        cols = values.reshape(len(self.cluster), -1)
        g = self.per_cluster.shape[1]
        per = np.column_stack([np.bincount(self.cluster, weights=c, minlength=g) for c in cols.T])
        out = self.per_cluster @ per
        return out.reshape(-1) if values.ndim == 1 else out


def cluster_counts(clusters, runs: int = BOOTSTRAP, seed: int = SEED) -> np.ndarray:
    """Resample counts (runs x areas) drawing whole clusters among those of ``clusters``."""
    return ClusterDraws(clusters, runs, seed).counts(clusters)


def bootstrap_rho(
    x: np.ndarray, y: np.ndarray, runs: int = BOOTSTRAP, seed: int = SEED, clusters=None
) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of rho over ``runs`` resamples: of the pairs (with replacement),
    or of whole ``clusters`` (a label per pair, e.g. its gemeente) when given.

    The pairs' ranks are resampled and correlated (Pearson on the full sample's ranks): the
    order within a resample is the same as re-ranking it. A resample is a count per pair, so its
    sums are one product of the count matrix with the ranks, their squares and their products
    (thousands of subjects are measured per run).
    """
    rx, ry = _average_ranks(np.asarray(x, float)), _average_ranks(np.asarray(y, float))
    if clusters is not None:
        labels = np.asarray(clusters, dtype=object)
        counts = ClusterDraws(labels, runs, seed).resamples(labels)  # as :func:`measure` draws them
    else:
        counts = _resample_counts(len(rx), runs, seed)
    return _interval(resampled_rho(rx, ry, counts))


def _interval(rho: np.ndarray) -> tuple[float, float]:
    if np.isnan(rho).all():
        return float("nan"), float("nan")
    lo, hi = np.nanpercentile(rho, [2.5, 97.5])
    return float(lo), float(hi)


def _drawn(counts) -> np.ndarray | Resamples:
    """A count matrix (runs x pairs) as floats; :class:`Resamples` as they are."""
    return counts if isinstance(counts, Resamples) else np.asarray(counts, dtype=float)


def resampled_rho(rx: np.ndarray, ry: np.ndarray, counts) -> np.ndarray:
    """Rho of each resample (``counts``: runs x pairs, how often each pair is drawn, or
    :class:`Resamples`)."""
    return _rho_of_sums(_drawn(counts) @ np.column_stack(_rho_columns(rx, ry)))


def _rho_columns(rx: np.ndarray, ry: np.ndarray) -> list[np.ndarray]:
    """What a resample's rho is made of, per pair: its sums of these (:func:`_rho_of_sums`)."""
    return [np.ones(len(rx)), rx, ry, rx * rx, ry * ry, rx * ry]


def _rho_of_sums(sums: np.ndarray) -> np.ndarray:
    """Rho of each resample from its sums of :func:`_rho_columns` (runs x 6)."""
    n = sums[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = sums[:, 1] / n, sums[:, 2] / n
        sxx = sums[:, 3] - n * mx * mx
        syy = sums[:, 4] - n * my * my
        sxy = sums[:, 5] - n * mx * my
        # A resample of one repeated pair has no spread (rounding may leave a speck): no rho.
        tiny = 1e-9 * n * n * n
        return np.where((sxx > tiny) & (syy > tiny), sxy / np.sqrt(sxx * syy), np.nan)


def resampled_capture(
    score_places: np.ndarray, oriented_places: np.ndarray, weight: np.ndarray, counts
) -> np.ndarray:
    """Top-10 % capture of each resample (deciles from the full sample's places)."""
    return _capture_of_sums(
        _drawn(counts) @ np.column_stack(_capture_columns(score_places, oriented_places, weight))
    )


def _capture_columns(score_places: np.ndarray, oriented_places: np.ndarray, weight: np.ndarray) -> list:
    """What a resample's top-10 % capture is made of, per area (:func:`_capture_of_sums`)."""
    n = len(score_places)
    worst = oriented_places <= np.ceil(0.1 * n)
    high = score_places <= np.ceil(0.1 * n)
    w = np.where(np.isfinite(weight) & (weight > 0), weight, 0.0)
    return [w * worst * high, w * worst]


def _capture_of_sums(sums: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[:, 0] / sums[:, 1]


def capture(score: np.ndarray, oriented: np.ndarray, weight: np.ndarray, top: float) -> float:
    """Share (by ``weight``) of the criterion's worst decile that the score puts in its top
    ``top`` share. Both are oriented so that higher = more vulnerable; deciles by rank."""
    return _capture_places(
        _top_places(np.asarray(score, float)), _top_places(np.asarray(oriented, float)), weight, top
    )


def _capture_places(score_places, oriented_places, weight, top: float) -> float:
    n = len(score_places)
    worst = oriented_places <= np.ceil(0.1 * n)
    high = score_places <= np.ceil(top * n)
    w = np.where(np.isfinite(weight) & (weight > 0), weight, 0.0)
    total = w[worst].sum()
    return float(w[worst & high].sum() / total) if total > 0 else float("nan")


@dataclass(frozen=True)
class Measure:
    n: int
    rho: float
    rho_lo: float
    rho_hi: float
    capture_top10: float
    capture_top20: float


def measure(
    score,
    criterion_value,
    direction: int,
    weight,
    interval: bool = True,
    clusters=None,
    draws=None,
    cluster_ids=None,
    ranked: dict | None = None,
) -> Measure:
    """All measures of one subject against one criterion on matched areas (``interval``: with the
    bootstrap interval of rho; resampling whole ``clusters``, a label per area, with ``draws``
    (:class:`ClusterDraws`) when given, else the pairs; ``cluster_ids``: the labels' numbers in
    ``draws``, :meth:`ClusterDraws.ids`, instead of ``clusters``). ``ranked``: a dict the
    criterion's rankings are kept in, by its values, for the next subject measured on the same
    areas (the headline, its themes and most indicators are)."""
    x = np.asarray(score, dtype=float)
    y = np.asarray(criterion_value, dtype=float) * direction
    w = np.asarray(weight, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, w = x[ok], y[ok], w[ok]
    if len(x) < MIN_AREAS:
        return Measure(len(x), *(float("nan"),) * 5)
    # Each ranking once: average ranks for rho and its interval, places for both captures.
    if ranked is None:
        ry, py = _average_ranks(y), _top_places(y)
    else:
        key = y.tobytes()  # the criterion's values on these areas
        if key not in ranked:
            ranked[key] = (_average_ranks(y), _top_places(y))
        ry, py = ranked[key]
    rx = _average_ranks(x)
    lo, hi = float("nan"), float("nan")
    if interval:
        if cluster_ids is not None:
            counts = Resamples(draws.per_cluster, np.asarray(cluster_ids)[ok])
        elif clusters is not None:
            kept = np.asarray(clusters, dtype=object)[ok]
            counts = (draws or ClusterDraws(kept)).resamples(kept)
        else:
            counts = _resample_counts(len(rx), BOOTSTRAP, SEED)
        lo, hi = _interval(resampled_rho(rx, ry, counts))
    px = _top_places(x)
    return Measure(
        len(x),
        _rho_of_ranks(rx, ry),
        lo,
        hi,
        _capture_places(px, py, w, 0.1),
        _capture_places(px, py, w, 0.2),
    )


def subjects(con: duckdb.DuckDBPyConnection, spec_hash: str) -> pd.DataFrame:
    """What is measured, per score year, level and area: the headline score, every theme score
    and every indicator (percentile ranks, higher = more vulnerable), with inhabitants."""
    return warehouse.query(con, "validation_subjects", spec_hash=spec_hash)


#: A target area reached through a crosswalk needs criterion values for at least this share of
#: its overlap with the criterion year's areas (else a part of it would speak for all of it).
MIN_CROSSWALK_COVER = 0.9
CROSSWALK_COLUMNS = ["from_year", "to_year", "level", "source_code", "target_code", "overlap_m2", "unchanged"]
#: A criterion's areas are those of the boundaries of up to this many years later (SCP's 2017
#: wijken are the 2017-2019 ones; the oldest boundaries here are 2019's).
BOUNDARY_LAG = 2


class StaleMatches(RuntimeError):
    """The stored matches lack a criterion or a score year: they were made before these criteria
    or this year's areas (materialise ``validation_criteria``)."""


@dataclass
class Matching:
    """What :func:`match` needs from the warehouse (:func:`matching_tables`), and what it matched:
    the validation, the requirement summary and the frontier match the same criteria onto the
    same years, so each (criterion rows, score year, level) is matched once per validation.
    ``stored``: every match was made beforehand (:func:`stored_matching`); one that was not is an
    error, not matched here (no tables to match with)."""

    crosswalk: pd.DataFrame | None = None
    changed: pd.DataFrame | None = None
    names: pd.DataFrame | None = None
    matched: dict = field(default_factory=dict, repr=False)
    stored: bool = False

    def match(self, criterion: pd.DataFrame, score_year: int, level: str) -> pd.DataFrame:
        """:func:`match` with these tables, once per criterion's rows (by content), year and level."""
        key = (_content_key(criterion), int(score_year), level)
        if key not in self.matched:
            if self.stored:
                crit, c_year, source = key[0][:3]
                raise StaleMatches(
                    f"criterion {crit} ({c_year}, {source}) has no stored match onto the {level} areas of "
                    f"{score_year}: materialise validation_criteria (its matches predate these criteria "
                    "or this year's areas)"
                )
            self.matched[key] = match(criterion, score_year, level, self.crosswalk, self.changed, self.names)
        return self.matched[key]


def _content_key(criterion: pd.DataFrame) -> tuple:
    """What :func:`match` reads of ``criterion`` (its year, and each row's code, value and name),
    as a digest: equal digests, equal matches. The columns go in as joined text and raw bytes;
    ``pd.util.hash_pandas_object`` on the Arrow-backed strings took 0.5 s of a validation's
    ~250 calls, this 0.08 s."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\0".join(criterion["code"].to_numpy(dtype=object)).encode())
    if "name" in criterion:
        names = criterion["name"]
        digest.update(names.isna().to_numpy(dtype=bool).tobytes())
        digest.update("\0".join(names.fillna("").to_numpy(dtype=object)).encode())
    digest.update(criterion["value"].to_numpy(dtype=float, na_value=np.nan).tobytes())
    first = (criterion["criterion"].iat[0], int(criterion["year"].iat[0]), criterion["source"].iat[0])
    return (*first, len(criterion), digest.hexdigest())


@functools.cache
def _normal_name(name) -> str:
    text = re.sub(r"^wijk\s*\d+\s*", "", str(name).lower())
    return re.sub(r"[^0-9a-zà-ÿ]+", " ", text).strip()


def same_name(a, b) -> bool:
    """Whether two names of an area say the same place: equal or one inside the other after
    dropping CBS's "Wijk NN" prefix, case and punctuation, else a similarity of at least 0.6
    (``difflib``): "Wijk 00 Appingedam" = "Appingedam", "Vogelwijk & Muziekwijk" != "Dokkumer Ie"."""
    return _same_normal(_normal_name(a), _normal_name(b))


@functools.cache
def _same_normal(x: str, y: str) -> bool:
    # Cached: every score year, half and subject matches the same pairs of names again (difflib
    # was 40 % of a validation's time).
    if not x or not y:
        return True
    return x in y or y in x or difflib.SequenceMatcher(None, x, y).ratio() >= 0.6


def _renamed(criterion: pd.DataFrame, level: str, names: pd.DataFrame | None) -> set:
    """Codes of ``criterion`` whose name differs from the one CBS gives the code in the nearest
    later year with names for ``level`` (the code then holds another area)."""
    if names is None or "name" not in criterion or criterion["name"].isna().all():
        return set()
    c_year = int(criterion["year"].iat[0])
    lv = names[(names["level"] == level) & (names["year"] >= c_year)]
    if lv.empty:
        return set()
    ref = lv[lv["year"] == lv["year"].min()].set_index("code")["name"]
    own = criterion.dropna(subset=["name"]).groupby("code")["name"].first()
    # Plain object arrays: element access on Arrow-backed strings costs more than the comparison
    # (pandas' isin on them converted every code, 1.5 s of a validation).
    own = own[_in(own.index, set(ref.index.to_numpy(dtype=object)))]
    codes = own.index.to_numpy(dtype=object)
    theirs = ref[~ref.index.duplicated()].reindex(own.index).to_numpy(dtype=object)
    return {
        c for c, n, r in zip(codes, own.to_numpy(dtype=object), theirs, strict=True) if not same_name(n, r)
    }


def match(
    criterion: pd.DataFrame,
    score_year: int,
    level: str,
    crosswalk: pd.DataFrame | None = None,
    changed: pd.DataFrame | None = None,
    names: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One criterion's values (rows of one criterion, year and level) on ``score_year``'s areas:
    ``code, criterion_value, via_crosswalk``; ``attrs["dropped"]`` says how many of the
    criterion's codes were left out and why.

    First, codes whose name in the criterion differs from the code's name in the nearest later
    year (``names``: ``year, level, code, name``) are left out: the code holds another area.
    Then through a crosswalk onto ``score_year`` from the criterion's boundaries — its own year's,
    or those up to :data:`BOUNDARY_LAG` years later (SCP's 2017 wijken are 2019's) — where one is
    stored for the level (``core.crosswalk``): a target area's value is the overlap-weighted mean
    of its source areas' values, when sources with a value cover at least
    :data:`MIN_CROSSWALK_COVER` of its overlap (a rate carried by area: a wijk split in two keeps
    its rate in both halves; two merged ones get their mean). Else by code, leaving out codes
    whose boundary is known to differ: ``changed`` (``year, code`` of ``geometry_source``
    'no_boundary:changed…') of the criterion's year, and codes a stored crosswalk of the level from
    the criterion's era (from a year up to :data:`BOUNDARY_LAG` after it) marks as changed.
    ``via_crosswalk`` marks areas whose code the criterion does not have: matched only so.
    """
    c_year = int(criterion["year"].iat[0])
    renamed = _renamed(criterion, level, names)
    values = criterion.groupby("code")["value"].first()
    values = values[~_in(values.index, renamed)]
    dropped = {"name_changed": len(renamed)}
    cw, era = None, None
    if crosswalk is not None and len(crosswalk):
        era = crosswalk[(crosswalk["level"] == level) & (crosswalk["from_year"] <= c_year + BOUNDARY_LAG)]
        ahead = era[(era["from_year"] >= c_year) & (era["to_year"] == score_year)]
        if len(ahead):
            cw = ahead[ahead["from_year"] == ahead["from_year"].min()]
    if cw is not None:
        pieces = cw.assign(value=cw["source_code"].map(values))
        total = pieces.groupby("target_code")["overlap_m2"].sum()
        have = pieces[pieces["value"].notna()]
        covered = have.groupby("target_code")["overlap_m2"].sum()
        weighted = (have["value"] * have["overlap_m2"]).groupby(have["target_code"]).sum() / covered
        keep = covered.index[covered >= MIN_CROSSWALK_COVER * total.reindex(covered.index)]
        out = weighted.loc[keep].rename("criterion_value").rename_axis("code").reset_index()
        dropped["no_boundary"] = int((~_in(values.index, set(cw["source_code"]))).sum())
    else:
        gone: set = set()
        if changed is not None and len(changed):
            gone = set(changed.loc[changed["year"] == c_year, "code"].to_numpy(dtype=object))
        if era is not None and len(era) and "unchanged" in era:
            gone |= set(era.loc[~era["unchanged"].astype(bool), "source_code"].to_numpy(dtype=object))
        # Membership through sets over object arrays: pandas' isin on Arrow strings converts them
        # one by one on every call (1.5 s of a validation), numpy's isin on objects compares all pairs.
        away = _in(values.index, gone)
        kept = values[values.notna().to_numpy() & ~away]
        out = kept.rename("criterion_value").rename_axis("code").reset_index()
        dropped["boundary_changed"] = int(away.sum())
    out = out.assign(via_crosswalk=~_in(out["code"], set(values.index.to_numpy(dtype=object))))
    out.attrs["dropped"] = dropped
    return out


def _in(codes, known: set) -> np.ndarray:
    """Whether each of ``codes`` is in ``known`` (a boolean array)."""
    return np.fromiter((c in known for c in np.asarray(codes, dtype=object)), dtype=bool, count=len(codes))


def _with_halves(subj: pd.DataFrame) -> pd.DataFrame:
    """``subj`` with the fixed half of each row's gemeente (column ``half``)."""
    halves = {g: half(g) for g in subj["gemeente_code"].dropna().unique()}
    return subj.assign(half=subj["gemeente_code"].map(halves))


def _own_input(source: str, criterion_year: int, score_year: int, carry: int = 0, level: str = "") -> bool:
    """A year's own KWB figures are the score's input, not a criterion for it; so are earlier KWB
    figures a spec carries into the year's gemeenten and wijken (method v3: at most ``carry``
    years older; buurten get nothing carried)."""
    reach = carry if level in CARRIED_LEVELS else 0
    return source.startswith("KWB") and 0 <= int(score_year) - int(criterion_year) <= reach


#: The levels method v3 carries earlier figures into (sql/fact_carried.sql).
CARRIED_LEVELS = ("gemeente", "wijk")


def matching_tables(con: duckdb.DuckDBPyConnection) -> Matching:
    """What :func:`match` needs from the warehouse: the stored crosswalks (``core.crosswalk``;
    wijk crosswalks of years that only have buurt boundaries, 2019, are derived from the buurt
    pieces by the wijk part of their codes), the codes whose boundary is known to have changed
    (``geometry_source`` 'no_boundary:changed…' in ``core.dim_region``): matched by code they would
    compare different places, and the areas' names per year."""
    crosswalk = (
        warehouse.query(con, "report/validation_crosswalk")
        if warehouse.has_table(con, "core.crosswalk")
        else pd.DataFrame(columns=CROSSWALK_COLUMNS)
    )
    changed = warehouse.frame(
        con.execute(
            "SELECT year, code FROM core.dim_region WHERE geometry_source LIKE 'no_boundary:changed%'"
        )
    )
    names = warehouse.frame(
        con.execute("SELECT year, level, code, name FROM core.dim_region WHERE name IS NOT NULL")
    )
    return Matching(crosswalk, changed, names)


#: Where :func:`store_matches` keeps the criteria and their matches in the warehouse.
CRITERIA_TABLE = "core.validation_criteria"
MATCHED_TABLE = "core.validation_matched"
DROPPED_TABLE = "core.validation_dropped"
#: What one criterion is: its rows of one criterion, year, level and source (what every analysis
#: groups the criteria by, and matches as one).
CRITERION_KEY = ["criterion", "year", "level", "source"]
#: What one stored match is of: a criterion onto the areas of a score year.
MATCH_KEY = ["criterion", "criterion_year", "level", "source", "score_year"]
#: Why :func:`match` leaves a criterion's codes out (its ``attrs["dropped"]``).
DROP_REASONS = ("name_changed", "boundary_changed", "no_boundary")


def gather_criteria(
    con: duckdb.DuckDBPyConnection, files: list[Path], buurt_truth: pd.DataFrame
) -> pd.DataFrame:
    """Every criterion a validation measures against: those of ``files`` (the shipped folder and
    yours, :func:`load_criteria`), KWB 2021's income figures where the warehouse has 2021, SCP's
    wijk criteria per gemeente (weighted by KWB 2021 inhabitants: with method v3 the KWB 2021
    criteria are its own carried input, and gemeenten need an independent test) and the KWB 2021
    buurt figures of 9 gemeenten (``buurt_truth``: the only check of the buurt scores people read)."""
    criteria = load_criteria(files)
    if con.execute("SELECT count(*) FROM core.dim_region WHERE year = 2021").fetchone()[0]:
        criteria = pd.concat([criteria, kwb_income_criteria(con, 2021)], ignore_index=True)
    inhabitants = warehouse.population(con, 2021)
    if inhabitants is not None:
        criteria = pd.concat([criteria, gemeente_criteria(criteria, inhabitants)], ignore_index=True)
    return pd.concat([criteria, kwb_buurt_criteria(buurt_truth)], ignore_index=True)


def match_all(
    criteria: pd.DataFrame, matching: Matching, targets: pd.DataFrame, submit=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every criterion matched onto every score year with areas of its level (``targets``:
    ``year, level``), own-input years included (which of them a spec leaves out is the
    validation's to decide): the matched areas (``criterion, criterion_year, level, source,
    score_year, code, criterion_value, via_crosswalk``) and per criterion and score year how many
    codes were left out and why (:data:`DROP_REASONS`; NULL where :func:`match` did not ask).

    ``submit`` (:meth:`veerkracht.helpers.Helpers.submit`): every other criterion is matched
    there meanwhile; the same rows, in the same order."""
    if submit is not None:
        nth = criteria.groupby(CRITERION_KEY).ngroup().to_numpy()
        away = submit(match_all, criteria[nth % 2 == 1], matching, targets)
        mine = match_all(criteria[nth % 2 == 0], matching, targets)
        theirs = away.result()
        return tuple(
            pd.concat([a, b], ignore_index=True).sort_values(MATCH_KEY, kind="stable", ignore_index=True)
            for a, b in zip(mine, theirs, strict=True)
        )
    years = {level: sorted(int(y) for y in part["year"].unique()) for level, part in targets.groupby("level")}
    matched, dropped = [], []
    for (crit, c_year, level, source), c in criteria.groupby(CRITERION_KEY):
        for year in years.get(level, []):
            got = matching.match(c, year, level)
            key = {"criterion": crit, "criterion_year": int(c_year), "level": level, "source": source}
            key["score_year"] = year
            matched.append(got.assign(**key))
            dropped.append({**key, **{r: got.attrs["dropped"].get(r) for r in DROP_REASONS}})
    columns = [*MATCH_KEY, "code", "criterion_value", "via_crosswalk"]
    rows = pd.concat(matched, ignore_index=True)[columns] if matched else pd.DataFrame(columns=columns)
    dropped_rows = pd.DataFrame(dropped, columns=[*MATCH_KEY, *DROP_REASONS])
    return rows, dropped_rows.astype({r: "Int64" for r in DROP_REASONS})


def store_matches(
    con: duckdb.DuckDBPyConnection, criteria: pd.DataFrame, matched: pd.DataFrame, dropped: pd.DataFrame
) -> None:
    """The criteria (in their order: ``row``) and their matches (:func:`match_all`) into the
    warehouse, replacing what was there, in one transaction."""
    with warehouse.transaction(con):
        warehouse.replace_rows(con, CRITERIA_TABLE, criteria.assign(row=np.arange(len(criteria))))
        warehouse.replace_rows(con, MATCHED_TABLE, matched.assign(row=np.arange(len(matched))))
        warehouse.replace_rows(con, DROPPED_TABLE, dropped)


def stored_matching(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Matching]:
    """The criteria and a :class:`Matching` holding their stored matches (:func:`store_matches`),
    keyed as :meth:`Matching.match` looks them up: the same criteria rows, read back in their
    order, give the same keys. The matches are the same for every method spec, so a run with
    another spec measures without matching again."""
    if not warehouse.has_table(con, DROPPED_TABLE):
        raise StaleMatches("no stored criteria in the warehouse: materialise validation_criteria")
    criteria = warehouse.frame(con.execute(f"SELECT * EXCLUDE (row) FROM {CRITERIA_TABLE} ORDER BY row"))
    if "name" in criteria and criteria["name"].isna().all():
        criteria["name"] = criteria["name"].astype(object)
    matched = warehouse.frame(con.execute(f"SELECT * EXCLUDE (row) FROM {MATCHED_TABLE} ORDER BY row"))
    dropped = warehouse.frame(con.execute(f"SELECT * FROM {DROPPED_TABLE}"))
    rows_of = matched.groupby(MATCH_KEY).indices if len(matched) else {}
    years_of: dict[tuple, list] = {}  # per criterion, its score years and their dropped counts
    for r in dropped[[*MATCH_KEY, *DROP_REASONS]].itertuples(index=False):
        years_of.setdefault(tuple(r[:4]), []).append((r[4], r[5:]))
    m = Matching(stored=True)
    for criterion, c in criteria.groupby(CRITERION_KEY):
        content = _content_key(c)
        for year, counts in years_of.get(criterion, []):
            rows = rows_of.get((*criterion, year), np.empty(0, dtype=np.intp))
            got = matched.iloc[rows][["code", "criterion_value", "via_crosswalk"]].reset_index(drop=True)
            asked = zip(DROP_REASONS, counts, strict=True)
            got.attrs["dropped"] = {r: int(n) for r, n in asked if not pd.isna(n)}
            m.matched[(content, int(year), criterion[2])] = got
    return criteria, m


def validate(
    subj: pd.DataFrame, criteria: pd.DataFrame, matching: Matching | None = None, carry: int = 0
) -> pd.DataFrame:
    """Measures per criterion, level, score year, subject and half (decide, report, all).

    Areas are matched as :func:`match` says (``n`` says how many matched, ``n_crosswalk`` how many
    of them only through the crosswalk, ``dropped_name`` / ``dropped_boundary`` how many of the
    criterion's codes were left out), and every subject is measured on areas the headline scores.
    Intervals resample whole gemeenten, the same draws for every subject and criterion of a half
    (:class:`ClusterDraws`). Criteria compare with the scores of every year (``same_year`` marks a
    criterion's own year), except KWB criteria with the scores of their own year, which are built
    from them (and of the years a spec carries them into: ``carry``, the spec's ``carry_max_age``);
    ``independent`` is False for criteria that restate an input (:data:`INPUT_DUPLICATES`).
    """
    m = matching or Matching()
    out = []
    subj = subj[subj["level"].isin(set(criteria["level"]))]
    # Themes and indicators are measured on the areas the headline scores, so "the composite is
    # weaker than its parts" compares like with like (a theme published for 60 % of the wijken
    # would otherwise be judged on another, easier set).
    headline = subj.loc[subj["kind"] == "score", ["year", "level", "code"]]
    subj = _with_halves(subj.merge(headline, on=["year", "level", "code"], how="inner"))
    draws = _draws(subj)
    scored = {
        (level, int(year)): _Scored(rows, draws)
        for (level, year), rows in subj.groupby(["level", "year"])  # sorted: years in order
    }
    for (crit, c_year, level, source), c in criteria.groupby(["criterion", "year", "level", "source"]):
        direction = int(c["direction"].iat[0])
        ranked: dict = {}  # the criterion's rankings on the areas measured, for the next subject
        for (lv, s_year), sc in scored.items():
            if lv != level or _own_input(source, c_year, s_year, carry, level):
                continue
            matched = m.match(c, s_year, level)
            gone = matched.attrs["dropped"]
            # The matched value of each row's area (the areas of one year, not its rows, are
            # looked up: every subject has a row per area); rows of areas not matched drop out.
            at = pd.Index(matched["code"]).get_indexer(sc.codes)[sc.area]
            kept = at >= 0
            crit_value = np.full(len(at), np.nan)
            crit_value[kept] = matched["criterion_value"].to_numpy(dtype=float, na_value=np.nan)[at[kept]]
            via = np.zeros(len(at), dtype=bool)
            via[kept] = matched["via_crosswalk"].to_numpy(dtype=bool)[at[kept]]
            both = ~np.isnan(sc.value) & ~np.isnan(crit_value)
            for (kind, name), pos in sc.subjects.items():
                pos = pos[kept[pos]]
                if not len(pos):
                    continue
                for part in ("all", *HALVES):
                    rows = pos if part == "all" else pos[sc.in_half[part][pos]]
                    # Intervals for the headline and the themes; indicators get rho and capture
                    # only (a thousand resamples for each would cost more than the whole score).
                    r = measure(
                        sc.value[rows], crit_value[rows], direction, sc.inwoners[rows], kind != "indicator",
                        draws=draws[part], cluster_ids=sc.cluster[part][rows], ranked=ranked,
                    )  # fmt: skip
                    out.append(
                        {
                            "criterion": crit,
                            "criterion_year": int(c_year),
                            "source": source,
                            "level": level,
                            "score_year": s_year,
                            "same_year": s_year == int(c_year),
                            "independent": crit not in INPUT_DUPLICATES,
                            "kind": kind,
                            "subject": name,
                            "half": part,
                            **r.__dict__,
                            "n_crosswalk": int((both[rows] & via[rows]).sum()),
                            "dropped_name": gone.get("name_changed", 0),
                            "dropped_boundary": gone.get("boundary_changed", 0) + gone.get("no_boundary", 0),
                        }
                    )
    return pd.DataFrame(out, columns=RESULT_COLUMNS)


RESULT_COLUMNS = [
    "criterion",
    "criterion_year",
    "source",
    "level",
    "score_year",
    "same_year",
    "independent",
    "kind",
    "subject",
    "half",
    *Measure.__dataclass_fields__,
    "n_crosswalk",
    "dropped_name",
    "dropped_boundary",
]


class _Scored:
    """The subjects of one level and score year as arrays (a DataFrame per criterion, subject and
    half cost more than the measures): each row's value, inhabitants, half and cluster number in
    each half's draws, its area (``area``, a position in ``codes``), and each subject's rows."""

    def __init__(self, rows: pd.DataFrame, draws: dict[str, ClusterDraws]):
        self.area, self.codes = pd.factorize(rows["code"])
        self.value = rows["value"].to_numpy(dtype=float, na_value=np.nan)
        self.inwoners = rows["inwoners"].to_numpy(dtype=float, na_value=np.nan)
        self.in_half = {h: (rows["half"] == h).to_numpy(dtype=bool) for h in HALVES}
        # Each gemeente's number once, then per row; -1: a row of the other half (never measured
        # with that half's draws) or without a gemeente.
        gemeente, gemeenten = pd.factorize(rows["gemeente_code"])
        self.cluster = {
            part: np.where(gemeente >= 0, d.ids(gemeenten.to_numpy(dtype=object), missing=-1)[gemeente], -1)
            for part, d in draws.items()
        }
        self.subjects = rows.groupby(["kind", "subject"]).indices  # sorted, as the results go


def _draws(subj: pd.DataFrame) -> dict[str, ClusterDraws]:
    """One set of gemeente resamples per half (and for all), shared by every subject and criterion."""
    gms = subj[["gemeente_code", "half"]].dropna().drop_duplicates()
    out = {"all": ClusterDraws(gms["gemeente_code"])}
    for h in HALVES:
        out[h] = ClusterDraws(gms.loc[gms["half"] == h, "gemeente_code"])
    return out


def requirement_summary(
    subj: pd.DataFrame,
    criteria: pd.DataFrame,
    matching: Matching | None = None,
    part: str = "report",
    carry: int = 0,
) -> pd.DataFrame:
    """Is the headline at least as good as each of its parts? Per level and score year with two or
    more themes, on the ``part`` half: for every theme and indicator, the mean rho and mean top-10 %
    capture over the independent criteria (not :data:`INPUT_DUPLICATES`, not the score's own
    input, not :data:`PRIMARY`) of the headline and of the part, each criterion on the areas both
    score, and the paired cluster-bootstrap 95 % interval of the differences (headline - part);
    and the same on :data:`PRIMARY` alone (``criteria`` = "primary")."""
    m = matching or Matching()
    subj = _with_halves(subj[subj["level"].isin(set(criteria["level"]))])
    subj = subj[subj["half"] == part]
    draws = ClusterDraws(subj["gemeente_code"].dropna().unique())
    independent = criteria[~criteria["criterion"].isin(INPUT_DUPLICATES)]
    rows = []
    for (level, year), s in subj.groupby(["level", "year"]):
        themes = s.loc[s["kind"] == "theme", "subject"].unique()
        if len(themes) < 2:
            continue
        wide = s.pivot_table(index="code", columns=["kind", "subject"], values="value")
        if ("score", "kwetsbaarheid") not in wide:
            continue
        wide = wide[wide[("score", "kwetsbaarheid")].notna()]
        info = s.drop_duplicates("code").set_index("code").reindex(wide.index)
        per_crit = {}
        for (crit, c_year, source), c in independent[independent["level"] == level].groupby(
            ["criterion", "year", "source"]
        ):
            if _own_input(source, c_year, year, carry, level):
                continue
            matched = m.match(c, int(year), level)
            y = matched.set_index("code")["criterion_value"].reindex(wide.index) * int(c["direction"].iat[0])
            if y.notna().sum() >= MIN_AREAS:
                per_crit[crit] = y.to_numpy(dtype=float)
        if not per_crit:
            continue
        head = wide[("score", "kwetsbaarheid")].to_numpy(dtype=float)
        gms = info["gemeente_code"].to_numpy(dtype=object)
        weight = info["inwoners"].to_numpy(dtype=float)
        for kind, name in wide.columns:
            if kind == "score":
                continue
            other = wide[(kind, name)].to_numpy(dtype=float)
            for label, crits in (
                ("independent", {k: v for k, v in per_crit.items() if k != PRIMARY}),
                ("primary", {k: v for k, v in per_crit.items() if k == PRIMARY}),
            ):
                row = _paired(head, other, crits, gms, weight, draws)
                if row:
                    rows.append({"level": level, "score_year": int(year), "kind": kind, "subject": name,
                                 "criteria": label, **row})  # fmt: skip
    return pd.DataFrame(rows)


def summary_and_frontier(
    subj: pd.DataFrame,
    criteria: pd.DataFrame,
    matching: Matching,
    carry: int = 0,
    halves: tuple[str, ...] = HALVES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`requirement_summary` and :func:`theme_frontier` (of ``halves``) in one call, with one
    ``matching``: what a step hands a helper process while it runs :func:`validate` (and the
    frontier of the other half) itself. Handed over as two calls, each got its own copy of
    ``matching`` and matched every criterion again (embedded years: 2.6-2.7 s for the two, 2.2 s
    in one)."""
    return (
        requirement_summary(subj, criteria, matching, carry=carry),
        theme_frontier(subj, criteria, halves, matching=matching, carry=carry),
    )


def _paired(head, other, crits: dict, gms, weight, draws: ClusterDraws) -> dict | None:
    """Mean rho and top-10 % capture over ``crits`` of the headline and another subject (each
    criterion on the areas both score), with paired cluster-bootstrap intervals of the differences."""
    stats = {k: [] for k in ("rho_h", "rho_o", "cap_h", "cap_o", "b_rho", "b_cap")}
    for y in crits.values():
        ok = np.isfinite(head) & np.isfinite(other) & np.isfinite(y)
        if ok.sum() < MIN_AREAS:
            continue
        ry = _average_ranks(y[ok])
        rh, ro = _average_ranks(head[ok]), _average_ranks(other[ok])
        py, ph, po = _top_places(y[ok]), _top_places(head[ok]), _top_places(other[ok])
        w = weight[ok]
        stats["rho_h"].append(_rho_of_ranks(rh, ry))
        stats["rho_o"].append(_rho_of_ranks(ro, ry))
        stats["cap_h"].append(_capture_places(ph, py, w, 0.1))
        stats["cap_o"].append(_capture_places(po, py, w, 0.1))
        # Both subjects' rho and capture sums in one product with the resamples (four cost 3x).
        columns = [*_rho_columns(rh, ry), *_rho_columns(ro, ry)]
        columns += [*_capture_columns(ph, py, w), *_capture_columns(po, py, w)]
        sums = draws.resamples(gms[ok]) @ np.column_stack(columns)
        stats["b_rho"].append(_rho_of_sums(sums[:, :6]) - _rho_of_sums(sums[:, 6:12]))
        stats["b_cap"].append(_capture_of_sums(sums[:, 12:14]) - _capture_of_sums(sums[:, 14:]))
    if not stats["rho_h"]:
        return None
    with warnings.catch_warnings():  # a resample without the criterion's worst decile: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        d_rho = np.nanmean(np.vstack(stats["b_rho"]), axis=0)
        d_cap = np.nanmean(np.vstack(stats["b_cap"]), axis=0)
    rho_h, rho_o = float(np.mean(stats["rho_h"])), float(np.mean(stats["rho_o"]))
    cap_h, cap_o = float(np.nanmean(stats["cap_h"])), float(np.nanmean(stats["cap_o"]))
    return {
        "n_criteria": len(stats["rho_h"]),
        "headline_rho": rho_h,
        "subject_rho": rho_o,
        "d_rho": rho_h - rho_o,
        "d_rho_lo": _interval(d_rho)[0],
        "d_rho_hi": _interval(d_rho)[1],
        "headline_capture": cap_h,
        "subject_capture": cap_o,
        "d_capture": cap_h - cap_o,
        "d_capture_lo": _interval(d_cap)[0],
        "d_capture_hi": _interval(d_cap)[1],
        "headline_at_least": bool(rho_h >= rho_o - 1e-9 and cap_h >= cap_o - 1e-9),
    }


def _simplex(k: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector of ``k`` themes on a grid of ``step`` that sums to 1."""
    m = round(1 / step)
    return [
        tuple(c / m for c in combo) for combo in itertools.product(range(m + 1), repeat=k) if sum(combo) == m
    ]


def _rhos(values: np.ndarray, crits: dict[str, np.ndarray]) -> np.ndarray:
    """Spearman rho (criteria x columns) of every column of ``values`` (areas x columns) with
    every criterion (oriented, aligned with the rows), each on the areas both have; NaN under
    :data:`MIN_AREAS`. Columns with the same missing areas are ranked together, in one call (a
    frontier measures hundreds of weightings against a dozen criteria)."""
    out = np.full((len(crits), values.shape[1]), np.nan)
    for i, y in enumerate(crits.values()):
        has_y = ~np.isnan(y)
        gaps = np.isnan(values[has_y])
        by_pattern: dict[bytes, list[int]] = {}
        for col in range(gaps.shape[1]):
            by_pattern.setdefault(np.packbits(gaps[:, col]).tobytes(), []).append(col)
        for cols in by_pattern.values():
            rows = np.flatnonzero(has_y)[~gaps[:, cols[0]]]
            if len(rows) < MIN_AREAS:
                continue
            rx = pd.DataFrame(values[np.ix_(rows, cols)]).rank(axis=0).to_numpy(copy=True)
            ry = pd.Series(y[rows]).rank().to_numpy(copy=True)
            rx -= rx.mean(axis=0)
            ry -= ry.mean()
            norm = np.sqrt((rx * rx).sum(axis=0) * (ry * ry).sum())
            with np.errstate(invalid="ignore", divide="ignore"):
                out[i, cols] = np.where(norm > 0, (rx * ry[:, None]).sum(axis=0) / norm, np.nan)
    return out


def theme_frontier(
    subj: pd.DataFrame,
    criteria: pd.DataFrame,
    part: str | tuple[str, ...] = "decide",
    step: float = 0.1,
    matching: Matching | None = None,
    carry: int = 0,
) -> pd.DataFrame:
    """Could *any* weighting of the themes make the headline at least as good as its best theme
    on every criterion? Per level and score year, every weight vector of the year's themes on a
    grid of ``step`` (the arithmetic mean of an area's complete themes, as the axis computes it)
    is measured like the headline (rho, on the areas the headline scores, per half of ``part``:
    one half or several), and compared per criterion with the best single theme (areas matched
    as :func:`validate` does, once for all halves). One row per half and weight vector: how many
    criteria it meets (rho >= the best theme's), its worst gap and mean rho.

    This answers whether "headline >= best theme on every criterion" is reachable at all with
    the published themes: when two criteria are best predicted by different themes and neither
    theme helps the other, no average of them beats both (docs/methodology.md).
    """
    parts = (part,) if isinstance(part, str) else tuple(part)
    m = matching or Matching()
    rows = []
    criteria = criteria[~criteria["criterion"].isin(INPUT_DUPLICATES)]
    subj = subj[subj["level"].isin(set(criteria["level"])) & subj["kind"].isin(["score", "theme"])]
    subj = _with_halves(subj)
    subj = subj[subj["half"].isin(parts)]
    for (level, year), s in subj.groupby(["level", "year"]):
        wide = s.pivot_table(index="code", columns="subject", values="value")
        if "kwetsbaarheid" not in wide:
            continue
        wide = wide[wide["kwetsbaarheid"].notna()]
        themes = sorted(c for c in wide.columns if c != "kwetsbaarheid")
        if not themes:
            continue
        on_areas = {}
        for (crit, c_year, source), c in criteria[criteria["level"] == level].groupby(
            ["criterion", "year", "source"]
        ):
            if not _own_input(source, c_year, year, carry, level):
                matched = m.match(c, int(year), level)
                matched = matched.set_index("code")["criterion_value"]
                on_areas[crit] = (matched * int(c["direction"].iat[0])).reindex(wide.index)
        half_of = s.drop_duplicates("code").set_index("code")["half"].reindex(wide.index)
        for name in parts:
            in_half = (half_of == name).to_numpy()
            y = {
                c: v.to_numpy(dtype=float)[in_half]
                for c, v in on_areas.items()
                if v[in_half].notna().sum() >= MIN_AREAS
            }
            if y:
                rows += _frontier_rows(wide[in_half], themes, y, step, name, level, int(year))
    return pd.DataFrame(
        rows,
        columns=[
            "half",
            "level",
            "score_year",
            "themes",
            "weights",
            "criteria",
            "at_least_best_theme",
            "worst_gap",
            "mean_rho",
        ],
    )


def _frontier_rows(
    wide: pd.DataFrame,
    themes: list[str],
    y: dict[str, np.ndarray],
    step: float,
    part: str,
    level: str,
    year: int,
) -> list[dict]:
    """The frontier of one half, level and score year (see :func:`theme_frontier`)."""
    best = np.nanmax(_rhos(wide[themes].to_numpy(dtype=float), y), axis=1)  # per criterion
    grid = np.array(_simplex(len(themes), step))  # weightings x themes
    present = wide[themes].notna().to_numpy(dtype=float)
    values = np.nan_to_num(wide[themes].to_numpy(dtype=float))
    denom = present @ grid.T  # areas x weightings
    with np.errstate(invalid="ignore", divide="ignore"):
        comp = np.where(denom > 0, (values @ grid.T) / denom, np.nan)
    gaps = _rhos(comp, y) - best[:, None]  # criteria x weightings
    rows = []
    for w, gap in zip(grid, gaps.T, strict=True):
        measured = ~np.isnan(gap)
        rows.append(
            {
                "half": part,
                "level": level,
                "score_year": year,
                "themes": ", ".join(themes),
                "weights": ", ".join(f"{x:g}" for x in w),
                "criteria": int(measured.sum()),
                "at_least_best_theme": int((gap[measured] >= -1e-9).sum()),
                "worst_gap": float(np.nanmin(gap)),
                "mean_rho": float(np.nanmean(gap + best)),
            }
        )
    return rows


def frontier_summary(*frontiers: pd.DataFrame) -> pd.DataFrame:
    """Per half, level and score year of the rows of :func:`theme_frontier` (one frame, or one per
    half), the weighting that meets the most criteria (then the smallest worst gap) and whether
    any weighting meets them all."""
    # (Empty frames left out of the concatenation: pandas warns about their dtypes otherwise.)
    rows = [f for f in frontiers if not f.empty]
    frontier = pd.concat(rows, ignore_index=True) if len(rows) > 1 else (rows or frontiers)[0]
    if frontier.empty:  # no year with themes and a criterion of 30+ matched areas
        return frontier.assign(any_weighting_meets_all=pd.Series(dtype=bool))
    best = frontier.sort_values(
        ["at_least_best_theme", "worst_gap"], ascending=[False, False]
    ).drop_duplicates(["half", "level", "score_year"])
    best = best.assign(any_weighting_meets_all=best["at_least_best_theme"] == best["criteria"])
    return best.sort_values(["half", "level", "score_year"]).reset_index(drop=True)
