"""SYNTHETIC load-test data, drawn from the real embedded KWB 2024 distributions. Benchmarks only.

Nothing here is real data and nothing here is ever published as such: every region name starts
with ``SYNTHETIC``, the vintage is ``synthetic-<seed>``, ``geometry_source`` is ``synthetic_*``.

Values: a Gaussian copula per level, fitted on the real staged values of the indicators the
default method reads (their marginals via empirical quantiles, their dependence via the
correlation of normal scores), so scores and the Monte Carlo see realistic distributions.
Missing values keep the real share missing per indicator and level.

Areas: ``real`` keeps the real 2024 codes and polygons (all NL: 342 / 3,393 / 14,574); ``grid``
tiles the Netherlands' extent with square buurten grouped 4 x 4 into wijken and 10 x 10 wijken
into gemeenten (scale 30 = ~450,000 buurten, the size of a national 100 m grid or PC6).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

RD_NEW = "EPSG:28992"
#: The Netherlands' extent in EPSG:28992 (m).
NL_BOUNDS = (13_000.0, 306_000.0, 278_000.0, 620_000.0)
#: What the default method reads (sources, denominators, sizes).
INDICATORS = [
    "AantalInwoners",
    "HuishoudensTotaal",
    "k_0Tot15Jaar",
    "k_65JaarOfOuder",
    "Eenpersoonshuishoudens",
    "GemiddeldeHuishoudensgrootte",
    "InBezitWoningcorporatie",
    "Koopwoningen",
    "GemiddeldeWOZWaardeVanWoningen",
    "GemiddeldInkomenPerInwoner",
    "Misdrijven",
]
LEVELS = ("gemeente", "wijk", "buurt")


@dataclass
class Copula:
    """Empirical marginals + normal-score correlation of one level's real indicator values."""

    quantiles: np.ndarray  # 1001 x k: the real marginals
    chol: np.ndarray  # k x k
    missing: np.ndarray  # k: real share missing

    @classmethod
    def fit(cls, wide: pd.DataFrame) -> Copula:
        values = wide[INDICATORS].to_numpy(dtype=float)
        missing = np.isnan(values).mean(axis=0)
        qs = np.linspace(0, 1, 1001)
        quantiles = np.column_stack(
            [np.nanquantile(col, qs) if np.isfinite(col).any() else np.zeros_like(qs) for col in values.T]
        )
        ranks = pd.DataFrame(values).rank(pct=True).to_numpy()
        inv = np.vectorize(NormalDist().inv_cdf, otypes=[float])
        scores = np.where(
            np.isnan(ranks), np.nan, inv(np.nan_to_num(np.clip(ranks, 1e-4, 1 - 1e-4), nan=0.5))
        )
        corr = pd.DataFrame(scores).corr(min_periods=30).fillna(0.0).to_numpy().copy()
        np.fill_diagonal(corr, 1.0)
        eigval, eigvec = np.linalg.eigh(corr)  # pairwise correlations need not be PSD: clip
        corr = eigvec @ np.diag(np.clip(eigval, 1e-6, None)) @ eigvec.T
        d = np.sqrt(np.diag(corr))
        return cls(quantiles, np.linalg.cholesky(corr / np.outer(d, d)), missing)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.chol.shape[0])) @ self.chol.T
        # Uniform margins from the ranks of the correlated normals (the copula), no scipy needed.
        u = (np.argsort(np.argsort(z, axis=0), axis=0) + 0.5) / n
        idx = u * (self.quantiles.shape[0] - 1)
        lo = np.floor(idx).astype(int)
        hi = np.minimum(lo + 1, self.quantiles.shape[0] - 1)
        frac = idx - lo
        cols = np.arange(self.chol.shape[0])
        out = self.quantiles[lo, cols] * (1 - frac) + self.quantiles[hi, cols] * frac
        out[rng.random(out.shape) < self.missing] = np.nan
        return out


def fit_copulas(staging_dir: Path) -> dict[str, Copula]:
    """One copula per level from a real staged year (``data/out/staging/2024``)."""
    values = pd.read_parquet(Path(staging_dir) / "kwb_value.parquet")
    regions = pd.read_parquet(Path(staging_dir) / "kwb_region.parquet").drop_duplicates("code")
    newest = (
        values.dropna(subset=["value"])
        .sort_values("vintage")
        .drop_duplicates(["code", "canonical"], keep="last")
    )
    wide = newest.pivot(index="code", columns="canonical", values="value").reindex(columns=INDICATORS)
    wide = wide.join(regions.set_index("code")["level"])
    return {level: Copula.fit(wide[wide["level"] == level]) for level in LEVELS}


def real_areas(staging_dir: Path) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """The real 2024 codes and polygons (all NL), names replaced by SYNTHETIC labels."""
    regions = pd.read_parquet(Path(staging_dir) / "kwb_region.parquet").sort_values("vintage")
    regions = regions.drop_duplicates("code", keep="last")
    regions = regions[regions["level"].isin(LEVELS)][["code", "level", "wijk_code", "gemeente_code"]]
    geoms = pd.concat([gpd.read_parquet(Path(staging_dir) / f"geometry_{lv}.parquet") for lv in LEVELS])
    geoms = gpd.GeoDataFrame(geoms, crs=RD_NEW).assign(geometry_source="synthetic_values_on_real_polygons")
    return regions.reset_index(drop=True), geoms.reset_index(drop=True)


def grid_areas(scale: float, shift_m: float = 0.0) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Square buurten tiling the NL extent: about 15,000 x ``scale`` buurten, 4 x 4 per wijk,
    10 x 10 wijken per gemeente. ``shift_m`` moves the whole grid (a "later year" whose
    boundaries all changed, for the crosswalk)."""
    x0, y0, x1, y1 = NL_BOUNDS
    n_buurt = 15_000 * scale
    cell = np.sqrt((x1 - x0) * (y1 - y0) / n_buurt)
    nx, ny = int((x1 - x0) // cell), int((y1 - y0) // cell)
    rows, polys = [], []

    def add(code, level, wijk, gemeente, i0, j0, size):
        rows.append((code, level, wijk, gemeente))
        polys.append(
            shapely.box(
                x0 + shift_m + i0 * cell,
                y0 + shift_m + j0 * cell,
                x0 + shift_m + (i0 + size) * cell,
                y0 + shift_m + (j0 + size) * cell,
            )
        )

    gm_cells = 40
    for gi in range(int(np.ceil(nx / gm_cells))):
        for gj in range(int(np.ceil(ny / gm_cells))):
            g = gi * 100 + gj
            gm = f"GM{g:04d}"
            add(gm, "gemeente", None, None, gi * gm_cells, gj * gm_cells, gm_cells)
            for wi in range(10):
                for wj in range(10):
                    wk = f"WK{g:04d}{wi * 10 + wj:02d}"
                    add(wk, "wijk", None, gm, gi * gm_cells + wi * 4, gj * gm_cells + wj * 4, 4)
                    for bi in range(4):
                        for bj in range(4):
                            add(
                                f"BU{g:04d}{wi * 10 + wj:02d}{bi * 4 + bj:02d}",
                                "buurt",
                                wk,
                                gm,
                                gi * gm_cells + wi * 4 + bi,
                                gj * gm_cells + wj * 4 + bj,
                                1,
                            )
    regions = pd.DataFrame(rows, columns=["code", "level", "wijk_code", "gemeente_code"])
    geoms = gpd.GeoDataFrame(
        regions[["code", "level"]].assign(geometry_source="synthetic_grid"),
        geometry=shapely.MultiPolygon([[p] for p in []])
        if False
        else [shapely.MultiPolygon([p]) for p in polys],
        crs=RD_NEW,
    )
    return regions, geoms


def staging_tables(
    regions: pd.DataFrame, copulas: dict[str, Copula], year: int, seed: int
) -> dict[str, pd.DataFrame]:
    """kwb_region / kwb_indicator / kwb_value frames for one SYNTHETIC year."""
    rng = np.random.default_rng([seed, year])
    vintage = f"synthetic-{seed}"
    frames = []
    for level in LEVELS:
        codes = regions.loc[regions["level"] == level, "code"].to_numpy()
        sample = copulas[level].sample(len(codes), rng)
        frames.append(
            pd.DataFrame(
                {
                    "code": np.repeat(codes, len(INDICATORS)),
                    "canonical": np.tile(INDICATORS, len(codes)),
                    "value": sample.reshape(-1),
                }
            )
        )
    values = pd.concat(frames, ignore_index=True)
    values = values.assign(
        source_key=values["canonical"],
        vintage=vintage,
        null_reason=np.where(values["value"].isna(), "synthetic_missing", None),
    )
    region = regions.assign(
        name="SYNTHETIC " + regions["code"], gemeente_name="SYNTHETIC", table_id="SYNTHETIC", vintage=vintage
    )
    indicator = pd.DataFrame(
        {
            "source_key": INDICATORS,
            "stem": INDICATORS,
            "title": INDICATORS,
            "unit": "",
            "decimals": 0,
            "datatype": "Double",
            "topic_group": "SYNTHETIC",
            "canonical": INDICATORS,
            "mapped": True,
            "table_id": "SYNTHETIC",
            "vintage": vintage,
        }
    )
    return {
        "kwb_region": region,
        "kwb_indicator": indicator,
        "kwb_value": values.astype({"null_reason": "string"}),
    }


def write_year(out: Path, tables: dict[str, pd.DataFrame], geoms: gpd.GeoDataFrame) -> Path:
    """Write one SYNTHETIC year as staged Parquet (what the warehouse stage reads)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet", compression="zstd", index=False)
    for level in LEVELS:
        geoms[geoms["level"] == level][["code", "level", "geometry_source", "geometry"]].to_parquet(
            out / f"geometry_{level}.parquet", compression="zstd", schema_version="1.1.0"
        )
    return out
