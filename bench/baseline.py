"""The benchmark's reference: the same work written the way a careful analyst would in plain
pandas/geopandas -- vectorised (merges, group-wise ranks, no row-wise Python), no SQL, no
threads of its own. It computes the same outputs as the pipeline stages it is timed against,
and every bench run checks that on a sample (:func:`compare_indicators`, :func:`compare_layer`):

- **indicators** (the pipeline's ``core.fact_carried`` + ``core.score_value`` +
  ``core.score_indicator``): per year, level, area and indicator of the spec the value, the
  value shrunk toward the parent area, and the percentile rank among the eligible areas of the
  level, with method v3's carried figures (the newest earlier value of the same code, at most
  ``carry_max_age`` years older, where the year has none);
- **layers** (the pipeline's "write GeoParquet x2 + GPKG"): a level's rows as GeoParquet in
  EPSG:28992 and EPSG:4326 and as a GeoPackage.

The themes, axes, Monte Carlo, resident counts and crosswalk have no counterpart here: the
bench times them but leaves them out of the baseline ratio.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from veerkracht.method.spec import MethodSpec

LEVELS = ("gemeente", "wijk", "buurt")
KEY = ["year", "code", "indicator"]


def _year_inputs(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(areas, long values) of one staged year: code, level, parent and geometry source; and
    code, canonical, value, unit (the newest vintage with a value, as core.fact_indicator)."""
    regions = pd.read_parquet(
        folder / "kwb_region.parquet", columns=["code", "level", "wijk_code", "gemeente_code"]
    )
    regions = regions[regions["level"].isin(LEVELS)].drop_duplicates("code", keep="last")
    regions["parent"] = regions["wijk_code"].where(regions["level"] == "buurt", regions["gemeente_code"])
    regions.loc[regions["level"] == "gemeente", "parent"] = None
    sources = pd.concat(
        [
            pd.read_parquet(folder / f"geometry_{lv}.parquet", columns=["code", "geometry_source"])
            for lv in LEVELS
        ]
    )
    regions = regions.merge(sources.drop_duplicates("code"), on="code", how="left")
    values = pd.read_parquet(
        folder / "kwb_value.parquet", columns=["code", "canonical", "value", "vintage", "source_key"]
    )
    units = pd.read_parquet(folder / "kwb_indicator.parquet", columns=["vintage", "source_key", "unit"])
    values = values.merge(units, on=["vintage", "source_key"], how="left")
    values = values.sort_values(["vintage"], ascending=False).sort_values(
        "value", key=lambda v: v.isna(), kind="stable"
    )
    values = values.drop_duplicates(["code", "canonical"])[["code", "canonical", "value", "unit"]]
    return regions[["code", "level", "parent", "geometry_source"]], values


def _carried(year: int, inputs: dict, regions: pd.DataFrame, own: pd.DataFrame, max_age: int) -> pd.DataFrame:
    """Method v3 by code: for the gemeenten and wijken of ``year``, the newest earlier figure of
    every indicator the year lacks; counts travel as a rate per inhabitant."""
    earlier = []
    for vintage in range(year - max_age, year):
        if vintage not in inputs:
            continue
        areas, values = inputs[vintage]
        inw = values.loc[values["canonical"] == "AantalInwoners"].set_index("code")["value"]
        v = values[values["value"].notna() & (values["canonical"] != "AantalInwoners")].merge(
            areas, on="code"
        )
        v = v[v["level"].isin(["gemeente", "wijk"])]
        v = v[~v["geometry_source"].fillna("").str.startswith("no_boundary:changed")]
        rate = v["value"] / v["code"].map(inw).replace(0, np.nan)
        earlier.append(v.assign(vintage=vintage, v=rate.where(v["unit"] == "aantal", v["value"])))
    if not earlier:
        return pd.DataFrame(columns=["code", "canonical", "value"])
    c = pd.concat(earlier, ignore_index=True)
    c = c.merge(regions[["code", "level"]], on=["code", "level"])  # the year's area, same level
    c = c[c["v"].notna()]
    present = own.loc[own["value"].notna(), ["code", "canonical"]].assign(present=True)
    c = c.merge(present, on=["code", "canonical"], how="left")
    c = c[c["present"].isna()]
    c = c.sort_values("vintage", ascending=False).drop_duplicates(["code", "canonical"])
    inw_now = own.loc[own["canonical"] == "AantalInwoners"].set_index("code")["value"]
    counts = c["unit"] == "aantal"
    c["value"] = (c["v"] * c["code"].map(inw_now)).where(counts, c["v"])
    c = c[~counts | c["code"].map(inw_now).notna()]
    return c[["code", "canonical", "value"]]


def indicators(staged: dict[int, Path], spec: MethodSpec) -> pd.DataFrame:
    """Every staged year's indicator rows: year, code, level, indicator, value, value_shrunk,
    oriented and percentile_rank of the eligible areas with a value (core.score_indicator)."""
    inputs = {year: _year_inputs(folder) for year, folder in staged.items()}
    out = []
    for year, (regions, own) in inputs.items():
        carried = _carried(year, inputs, regions, own, spec.carry_max_age)
        facts = pd.concat([own[own["value"].notna()][["code", "canonical", "value"]], carried])
        wide = facts.pivot(index="code", columns="canonical", values="value").astype(float)
        wide = wide.reindex(regions["code"])
        parent = regions.set_index("code")["parent"]
        inwoners = wide["AantalInwoners"] if "AantalInwoners" in wide else pd.Series(np.nan, index=wide.index)
        eligible = (inwoners >= spec.min_population).fillna(False)
        level = regions.set_index("code")["level"]
        for ind in spec.indicators:
            if ind.source not in wide:
                continue
            src = wide[ind.source]
            if ind.denominator:
                den = (
                    wide[ind.denominator] if ind.denominator in wide else pd.Series(np.nan, index=wide.index)
                )
                x = src / den.where(den != 0) * ind.scale
            else:
                x = src * ind.scale
            xs = x
            if ind.size and spec.shrinkage:
                size = wide[ind.size] if ind.size in wide else pd.Series(np.nan, index=wide.index)
                x_parent = pd.Series(x.reindex(parent.to_numpy()).to_numpy(), index=x.index)
                w = size / (size + spec.prior_size)
                use = x.notna() & x_parent.notna() & (size > 0)
                xs = (w * x + (1 - w) * x_parent).where(use, x)
            usable = x.notna() & ((x > 0) if ind.transform == "log" else True)
            oriented = ind.direction * (np.log(xs.where(xs > 0)) if ind.transform == "log" else xs)
            keep = (eligible & usable & oriented.notna()).to_numpy()
            rows = pd.DataFrame(
                {
                    "code": x.index[keep],
                    "level": level.to_numpy()[keep],
                    "indicator": ind.name,
                    "value": x[keep].to_numpy(),
                    "value_shrunk": xs[keep].to_numpy(),
                    "oriented": oriented[keep].to_numpy(),
                }
            )
            ranks = rows.groupby("level")["oriented"]
            n = ranks.transform("size")
            rows["percentile_rank"] = ((ranks.rank(method="min") - 1) / (n - 1)).where(n > 1, 0.0)
            out.append(rows.assign(year=year))
    return pd.concat(out, ignore_index=True)


def compare_indicators(mine: pd.DataFrame, con, spec: MethodSpec, sample: int = 2000, seed: int = 0) -> dict:
    """Check :func:`indicators` against the pipeline's ``core.score_indicator``: the same rows
    (every year, area and indicator) and, on a random sample of them, the same value, shrunk
    value and percentile rank (to 1e-9). Raises AssertionError on a difference; returns counts."""
    theirs = con.execute(
        "SELECT year, code, indicator, value, value_shrunk, percentile_rank FROM core.score_indicator "
        "WHERE spec_hash = ?",
        [spec.spec_hash],
    ).df()
    assert len(theirs) == len(mine), (
        f"baseline has {len(mine):,} indicator rows, the pipeline {len(theirs):,}"
    )
    rows = mine.sample(min(sample, len(mine)), random_state=seed).merge(
        theirs, on=KEY, how="left", suffixes=("", "_pipeline"), indicator=True
    )
    assert (rows["_merge"] == "both").all(), "baseline rows the pipeline does not have"
    for col in ("value", "value_shrunk", "percentile_rank"):
        a, b = rows[col].to_numpy(float), rows[f"{col}_pipeline"].to_numpy(float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=1e-9)
        assert not bad.any(), (
            f"{col} differs for {bad.sum()} of {len(rows)} sampled rows: {rows[bad].head(3)}"
        )
    return {"rows": len(mine), "sampled": len(rows)}


def write_layer(gdf: gpd.GeoDataFrame, out: Path, year: int, level: str) -> dict[str, Path]:
    """A level's rows as GeoParquet (EPSG:28992 and 4326) and GeoPackage, plainly."""
    out.mkdir(parents=True, exist_ok=True)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    paths = {
        "parquet_28992": out / f"{level}_{year}_28992.parquet",
        "parquet_4326": out / f"{level}_{year}_4326.parquet",
        "gpkg": out / f"{level}_{year}.gpkg",
    }
    gdf.to_parquet(paths["parquet_28992"], compression="zstd")
    gdf.to_crs("EPSG:4326").to_parquet(paths["parquet_4326"], compression="zstd")
    gdf.to_file(paths["gpkg"], layer=f"{level}_{year}", driver="GPKG")
    return paths


def compare_layer(mine: Path, theirs: Path) -> int:
    """Check a baseline layer file against the pipeline's: the same areas, each with the same
    score and the same polygon (to 1e-9 degrees). Returns the number of areas compared."""
    a = gpd.read_parquet(mine).sort_values("code", ignore_index=True)
    b = gpd.read_parquet(theirs).sort_values("code", ignore_index=True)
    assert a["code"].tolist() == b["code"].tolist(), f"{mine.name}: other areas than {theirs}"
    assert np.allclose(a["score"].to_numpy(float), b["score"].to_numpy(float), equal_nan=True), mine.name
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-9).all(), f"{mine.name}: other polygons"
    return len(a)
