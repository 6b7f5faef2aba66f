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

Fitting guard: gemeenten are split in two fixed halves (:func:`half`, by a hash of the gemeente
code: no choice of ours decides who is in which half). Method choices are made on ``decide`` and
reported on ``report``.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from veerkracht import warehouse

CRITERION_COLUMNS = ["code", "year", "level", "criterion", "value", "direction"]
#: Bootstrap resamples and seed of the rho interval (fixed: the numbers in docs are reproducible).
BOOTSTRAP = 1000
SEED = 20260
HALVES = ("decide", "report")
#: Fewer matched areas than this give no measures (Utrecht 2023's 10 wijken, say).
MIN_AREAS = 30


class CriterionError(ValueError):
    """A criterion file that cannot be used, with what is wrong."""


def half(gemeente_code: str) -> str:
    """The fixed half of a gemeente: ``decide`` or ``report`` (first byte of SHA-256 of its code,
    even = decide). Documented in docs/validation.md; never tuned."""
    return HALVES[hashlib.sha256(gemeente_code.encode()).digest()[0] % 2]


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
    return frame[[*CRITERION_COLUMNS, "source"]].dropna(subset=["value"])


def load_criteria(paths: list[Path]) -> pd.DataFrame:
    """Every criterion of the given files and folders (``*.csv`` in a folder)."""
    files = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    frames = [read_criteria(f) for f in files]
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[*CRITERION_COLUMNS, "source"])
    )


def kwb_income_criteria(con: duckdb.DuckDBPyConnection, year: int = 2021) -> pd.DataFrame:
    """KWB ``year``'s income and benefit figures per gemeente and wijk as criteria (for scores of
    other years, which lack them: does a score without income still find the low-income areas?)."""
    rows = warehouse.query(con, "report/kwb_income_criteria", year=year)
    return rows.assign(source=f"KWB {year} (embedded)")[[*CRITERION_COLUMNS, "source"]]


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


def bootstrap_rho(
    x: np.ndarray, y: np.ndarray, runs: int = BOOTSTRAP, seed: int = SEED
) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of rho over ``runs`` resamples of the pairs (with replacement).

    The pairs' ranks are resampled and correlated (Pearson on the full sample's ranks): the
    order within a resample is the same as re-ranking it. A resample is a count per pair, so its
    sums are one product of the count matrix with the ranks, their squares and their products
    (thousands of subjects are measured per run).
    """
    return _bootstrap_ranks(
        _average_ranks(np.asarray(x, float)), _average_ranks(np.asarray(y, float)), runs, seed
    )


def _bootstrap_ranks(rx: np.ndarray, ry: np.ndarray, runs: int = BOOTSTRAP, seed: int = SEED):
    n = len(rx)
    counts = _resample_counts(n, runs, seed).astype(float)
    sums = counts @ np.column_stack([rx, ry, rx * rx, ry * ry, rx * ry])
    mx, my = sums[:, 0] / n, sums[:, 1] / n
    sxx = sums[:, 2] - n * mx * mx
    syy = sums[:, 3] - n * my * my
    sxy = sums[:, 4] - n * mx * my
    # A resample of one repeated pair has no spread (rounding may leave a speck): no rho.
    tiny = 1e-9 * n * n * n
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where((sxx > tiny) & (syy > tiny), sxy / np.sqrt(sxx * syy), np.nan)
    lo, hi = np.nanpercentile(rho, [2.5, 97.5])
    return float(lo), float(hi)


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


def measure(score, criterion_value, direction: int, weight, interval: bool = True) -> Measure:
    """All measures of one subject against one criterion on matched areas (``interval``: with the
    bootstrap interval of rho)."""
    x = np.asarray(score, dtype=float)
    y = np.asarray(criterion_value, dtype=float) * direction
    w = np.asarray(weight, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, w = x[ok], y[ok], w[ok]
    if len(x) < MIN_AREAS:
        return Measure(len(x), *(float("nan"),) * 5)
    # Each ranking once: average ranks for rho and its interval, places for both captures.
    rx, ry = _average_ranks(x), _average_ranks(y)
    lo, hi = _bootstrap_ranks(rx, ry) if interval else (float("nan"), float("nan"))
    px, py = _top_places(x), _top_places(y)
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
CROSSWALK_COLUMNS = ["from_year", "to_year", "level", "source_code", "target_code", "overlap_m2"]


def match(
    criterion: pd.DataFrame,
    score_year: int,
    level: str,
    crosswalk: pd.DataFrame | None = None,
    changed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One criterion's values (rows of one criterion, year and level) on ``score_year``'s areas:
    ``code, criterion_value, via_crosswalk``.

    Through a crosswalk from the criterion's year to the score year where one is stored for the
    level (``core.crosswalk``): a target area's value is the overlap-weighted mean of its source
    areas' values, when sources with a value cover at least :data:`MIN_CROSSWALK_COVER` of its
    overlap (a rate carried by area: a wijk split in two keeps its rate in both halves; two
    merged ones get their mean). Else by code, leaving out areas whose boundary in the
    criterion's year is known to differ from the code's later one (``changed``: ``year, code``
    of ``geometry_source`` 'no_boundary:changed…'), as change over time does.
    ``via_crosswalk`` marks areas whose code the criterion does not have: matched only so.
    """
    c_year = int(criterion["year"].iat[0])
    values = criterion.groupby("code")["value"].first()
    cw = None
    if crosswalk is not None and len(crosswalk):
        cw = crosswalk[
            (crosswalk["from_year"] == c_year)
            & (crosswalk["to_year"] == score_year)
            & (crosswalk["level"] == level)
        ]
    if cw is not None and len(cw):
        pieces = cw.assign(value=cw["source_code"].map(values))
        total = pieces.groupby("target_code")["overlap_m2"].sum()
        have = pieces[pieces["value"].notna()]
        covered = have.groupby("target_code")["overlap_m2"].sum()
        weighted = (have["value"] * have["overlap_m2"]).groupby(have["target_code"]).sum() / covered
        keep = covered.index[covered >= MIN_CROSSWALK_COVER * total.reindex(covered.index)]
        out = weighted.loc[keep].rename("criterion_value").rename_axis("code").reset_index()
    else:
        gone: set = set()
        if changed is not None and len(changed):
            gone = set(changed.loc[changed["year"] == c_year, "code"].to_numpy(dtype=object))
        # Membership through sets over object arrays: pandas' isin on Arrow strings converts them
        # one by one on every call (1.5 s of a validation), numpy's isin on objects compares all pairs.
        kept = values[values.notna().to_numpy() & ~_in(values.index, gone)]
        out = kept.rename("criterion_value").rename_axis("code").reset_index()
    return out.assign(via_crosswalk=~_in(out["code"], set(values.index.to_numpy(dtype=object))))


def _in(codes, known: set) -> np.ndarray:
    """Whether each of ``codes`` is in ``known`` (a boolean array)."""
    return np.fromiter((c in known for c in np.asarray(codes, dtype=object)), dtype=bool, count=len(codes))


def _with_halves(subj: pd.DataFrame) -> pd.DataFrame:
    """``subj`` with the fixed half of each row's gemeente (column ``half``)."""
    halves = {g: half(g) for g in subj["gemeente_code"].dropna().unique()}
    return subj.assign(half=subj["gemeente_code"].map(halves))


def _own_input(source: str, criterion_year: int, score_year: int) -> bool:
    """A year's own KWB figures are the score's input, not a criterion for it."""
    return source.startswith("KWB") and int(criterion_year) == int(score_year)


def matching_tables(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What :func:`match` needs from the warehouse: the stored crosswalks (``core.crosswalk``),
    and the codes whose boundary is known to have changed (``geometry_source``
    'no_boundary:changed…' in ``core.dim_region``): matched by code they would compare
    different places."""
    crosswalk = (
        con.execute(f"SELECT {', '.join(CROSSWALK_COLUMNS)} FROM core.crosswalk").df()
        if warehouse.has_table(con, "core.crosswalk")
        else pd.DataFrame(columns=CROSSWALK_COLUMNS)
    )
    changed = con.execute(
        "SELECT year, code FROM core.dim_region WHERE geometry_source LIKE 'no_boundary:changed%'"
    ).df()
    return crosswalk, changed


def validate(
    subj: pd.DataFrame,
    criteria: pd.DataFrame,
    crosswalk: pd.DataFrame | None = None,
    changed: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Measures per criterion, level, score year, subject and half (decide, report, all).

    Areas are matched as :func:`match` says (through a stored crosswalk from the criterion's
    year to the score year, else by code; ``n`` says how many matched, ``n_crosswalk`` how many
    of them only through the crosswalk), and every subject is measured on areas the headline scores.
    Criteria compare with the scores of every year (``same_year`` marks a criterion's own year),
    except KWB criteria with the scores of their own year, which are built from them.
    """
    out = []
    subj = subj[subj["level"].isin(set(criteria["level"]))]
    # Themes and indicators are measured on the areas the headline scores, so "the composite is
    # weaker than its parts" compares like with like (a theme published for 60 % of the wijken
    # would otherwise be judged on another, easier set).
    headline = subj.loc[subj["kind"] == "score", ["year", "level", "code"]]
    subj = _with_halves(subj.merge(headline, on=["year", "level", "code"], how="inner"))
    by_level = dict(tuple(subj.groupby("level")))
    for (crit, c_year, level, source), c in criteria.groupby(["criterion", "year", "level", "source"]):
        direction = int(c["direction"].iat[0])
        if level not in by_level:
            continue
        # One join per criterion and score year (not per subject); rows keep their order within
        # each subject.
        parts = []
        for s_year, scored in by_level[level].groupby("year"):
            if _own_input(source, c_year, s_year):
                continue
            matched = match(c, int(s_year), level, crosswalk, changed).set_index("code")
            parts.append(scored.join(matched, on="code", how="inner"))
        if not parts:
            continue
        joined = pd.concat(parts)
        # Columns as arrays, and each subject's rows as positions: a DataFrame per subject and
        # half cost more than the measures.
        value = joined["value"].to_numpy(dtype=float, na_value=np.nan)
        crit_value = joined["criterion_value"].to_numpy(dtype=float, na_value=np.nan)
        inwoners = joined["inwoners"].to_numpy(dtype=float, na_value=np.nan)
        via = joined["via_crosswalk"].to_numpy(dtype=bool)
        in_half = {h: (joined["half"] == h).to_numpy(dtype=bool) for h in HALVES}
        both = ~np.isnan(value) & ~np.isnan(crit_value)
        for (s_year, kind, name), pos in joined.groupby(["year", "kind", "subject"]).indices.items():
            for part, rows in [("all", pos), *((h, pos[in_half[h][pos]]) for h in HALVES)]:
                # Intervals for the headline and the themes; indicators get rho and capture only
                # (a thousand resamples for each of them would cost more than the whole score).
                r = measure(value[rows], crit_value[rows], direction, inwoners[rows], kind != "indicator")
                out.append(
                    {
                        "criterion": crit,
                        "criterion_year": int(c_year),
                        "source": source,
                        "level": level,
                        "score_year": int(s_year),
                        "same_year": int(s_year) == int(c_year),
                        "kind": kind,
                        "subject": name,
                        "half": part,
                        **r.__dict__,
                        "n_crosswalk": int((both[rows] & via[rows]).sum()),
                    }
                )
    columns = [
        "criterion",
        "criterion_year",
        "source",
        "level",
        "score_year",
        "same_year",
        "kind",
        "subject",
        "half",
        *Measure.__dataclass_fields__,
        "n_crosswalk",
    ]
    return pd.DataFrame(out, columns=columns)


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
    crosswalk: pd.DataFrame | None = None,
    changed: pd.DataFrame | None = None,
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
    rows = []
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
            if not _own_input(source, c_year, year):
                matched = match(c, int(year), level, crosswalk, changed).set_index("code")["criterion_value"]
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


def frontier_summary(frontier: pd.DataFrame) -> pd.DataFrame:
    """Per half, level and score year, the weighting that meets the most criteria (then the smallest
    worst gap) and whether any weighting meets them all."""
    if frontier.empty:  # no year with themes and a criterion of 30+ matched areas
        return frontier.assign(any_weighting_meets_all=pd.Series(dtype=bool))
    best = frontier.sort_values(
        ["at_least_best_theme", "worst_gap"], ascending=[False, False]
    ).drop_duplicates(["half", "level", "score_year"])
    best = best.assign(any_weighting_meets_all=best["at_least_best_theme"] == best["criteria"])
    return best.sort_values(["half", "level", "score_year"]).reset_index(drop=True)
