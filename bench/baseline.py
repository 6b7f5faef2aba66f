"""The straightforward implementation, kept as the benchmark's reference: the same steps written
the way a first notebook would, in plain pandas/geopandas (long -> wide pivot, row-wise
percentile ranks, geopandas overlay for the crosswalk, GeoDataFrame.to_parquet). It follows the
default spec's formulas (no Monte Carlo, which the notebook would not have) so the work is
comparable to the pipeline's score + layers + crosswalk stages."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from veerkracht.method.spec import load_spec


def _row_wise_rank(s: pd.Series) -> pd.Series:
    present = s.dropna()
    n = len(present)
    return s.apply(lambda v: np.nan if pd.isna(v) else (present < v).sum() / max(n - 1, 1))


def score_year(folder: Path) -> pd.DataFrame:
    spec = load_spec()
    values = pd.read_parquet(folder / "kwb_value.parquet")
    regions = pd.read_parquet(folder / "kwb_region.parquet").drop_duplicates("code", keep="last")
    wide = values.pivot_table(index="code", columns="canonical", values="value", aggfunc="last")
    wide = regions.set_index("code")[["level", "wijk_code", "gemeente_code"]].join(wide)
    wide = wide[wide["level"].isin(["gemeente", "wijk", "buurt"])]
    wide["parent"] = np.where(
        wide["level"] == "buurt",
        wide["wijk_code"],
        np.where(wide["level"] == "wijk", wide["gemeente_code"], None),
    )
    eligible = wide["AantalInwoners"] >= spec.min_population
    themes: dict[str, list[tuple[pd.Series, float]]] = {}
    for ind in spec.indicators:
        if ind.source not in wide:
            continue
        x = wide[ind.source] * ind.scale
        if ind.denominator:
            x = wide[ind.source] / wide[ind.denominator].replace(0, np.nan) * ind.scale
        if ind.size and spec.shrinkage:
            parent_x = wide["parent"].map(x)
            n = wide[ind.size]
            shrunk = (n * x + spec.prior_size * parent_x) / (n + spec.prior_size)
            x = shrunk.where(parent_x.notna() & n.notna(), x)
        o = ind.direction * (np.log(x.where(x > 0)) if ind.transform == "log" else x)
        ranks = o.where(eligible).groupby(wide["level"]).transform(_row_wise_rank)
        themes.setdefault(ind.theme, []).append((ranks, ind.weight))
    theme_scores = {}
    for t, cols in themes.items():  # weighted mean of the indicators each area has
        values = pd.concat([r for r, _ in cols], axis=1)
        weights = pd.Series([w for _, w in cols], index=values.columns)
        theme_scores[t] = (values * weights).sum(axis=1, min_count=1) / values.notna().mul(weights).sum(
            axis=1
        )
    kw = [
        s
        for t, s in theme_scores.items()
        if next(x.axis for x in spec.themes if x.name == t) == "kwetsbaarheid"
    ]
    value = np.exp(np.log(pd.concat(kw, axis=1).clip(lower=spec.geometric_floor)).mean(axis=1))
    score = value.where(eligible).groupby(wide["level"]).transform(_row_wise_rank)
    return pd.DataFrame({"level": wide["level"], "score": score})


def layers_year(scores: pd.DataFrame, folder: Path, out: Path, year: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for level in ("gemeente", "wijk", "buurt"):
        gdf = gpd.read_parquet(folder / f"geometry_{level}.parquet")
        gdf = gdf.merge(
            scores[scores["level"] == level].drop(columns="level"), left_on="code", right_index=True
        )
        gdf.to_parquet(out / f"{level}_{year}_28992.parquet")
        gdf.to_crs("EPSG:4326").to_parquet(out / f"{level}_{year}_4326.parquet")


def crosswalk(source: gpd.GeoDataFrame, target: gpd.GeoDataFrame) -> pd.DataFrame:
    src = source[["code", "geometry"]].rename(columns={"code": "source_code"})
    tgt = target[["code", "geometry"]].rename(columns={"code": "target_code"})
    pieces = gpd.overlay(src, tgt, how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.geometry.area
    pieces["weight_area"] = pieces["area"] / pieces.groupby("source_code")["area"].transform("sum")
    return pd.DataFrame(pieces.drop(columns="geometry"))
