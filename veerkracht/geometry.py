"""Region polygons: read, clean and check; all in EPSG:28992 (RD New).

Belongs here: reading the embedded GeoParquet geometries of a year and level, and making them
valid MultiPolygons. Writing published layers lives in :mod:`veerkracht.layers`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from veerkracht.registry import is_pseudo

RD_NEW = "EPSG:28992"


def embedded_geometry_path(embedded_dir: Path, year: int, level: str) -> Path:
    """Where the embedded snapshot keeps ``level`` polygons of ``year``."""
    return Path(embedded_dir) / "geometries" / str(year) / f"{level}.parquet"


def read_geometries(path: Path) -> gpd.GeoDataFrame:
    """Read one level's polygons (code, name, geometry_source, geometry) in EPSG:28992, cleaned."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"No geometries at {path}")
    gdf = gpd.read_parquet(path)
    if gdf.crs is None:
        raise ValueError(f"{path} has no CRS; expected {RD_NEW}")
    return clean(gdf.to_crs(RD_NEW))


def clean(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Make every geometry a valid, non-empty MultiPolygon (shapely ``make_valid``).

    ``make_valid`` can split a self-touching ring into polygons plus stray lines; only the
    polygonal parts are kept, because an area layer has no use for lines.
    """
    geoms = shapely.make_valid(gdf.geometry.to_numpy())
    polys = []
    for geom in geoms:
        parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        flat = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
        polys.append(shapely.MultiPolygon(flat) if flat else None)
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(polys, index=gdf.index, crs=gdf.crs)
    return out[out.geometry.notna() & ~out.geometry.is_empty]


def stage_geometries(year: int, levels: tuple[str, ...], embedded_dir: Path, staging_dir: Path, *,
                     source: str = "embedded", raw_dir: Path | None = None,
                     url: str | None = None, timeout: float = 120.0) -> dict[str, dict]:
    """Write cleaned polygons of each level of ``year`` as ``geometry_<level>.parquet``; return stats.

    ``embedded``: the snapshot's levels for that year (2019 has gemeenten and buurten only; a
    year with none is an error naming the years that have geometries). ``pdok``: download the
    year's wijk- en buurtkaart GeoPackage into ``raw_dir`` and read all three levels from it.
    Areas with pseudo codes (``GM0998`` Buitenland, ``WKxxxx99`` water wijken, …) are counted
    but kept: the code pattern alone is not proof (WK010699 and WK168199 are real KWB 2024
    wijken), and the warehouse only joins polygons to areas that the KWB table lists.
    """
    if source == "pdok":
        from veerkracht import pdok  # network code only when asked for

        gpkg = pdok.download_gpkg(year, Path(raw_dir) / "geometries" / str(year), url=url, timeout=timeout)
        frames = {level: pdok.read_level(gpkg, level, year) for level in levels}
    elif source == "embedded":
        available = [lv for lv in levels if embedded_geometry_path(embedded_dir, year, lv).is_file()]
        if not available:
            years = sorted(p.name for p in (Path(embedded_dir) / "geometries").iterdir())
            raise FileNotFoundError(f"No embedded geometries for {year}; the snapshot has {', '.join(years)}")
        frames = {lv: read_geometries(embedded_geometry_path(embedded_dir, year, lv)) for lv in available}
    else:
        raise ValueError(f"Unknown geometry source {source!r}; choose 'embedded' or 'pdok'")
    staging_dir.mkdir(parents=True, exist_ok=True)
    stats = {}
    for level, gdf in frames.items():
        pseudo = gdf["code"].map(is_pseudo)
        gdf = gdf.assign(level=level)
        gdf[["code", "level", "geometry_source", "geometry"]].to_parquet(
            staging_dir / f"geometry_{level}.parquet", compression="zstd", schema_version="1.1.0")
        stats[level] = {"areas": len(gdf), "pseudo_code_areas": int(pseudo.sum()),
                        "geometry_source": gdf["geometry_source"].value_counts().to_dict()}
    return stats
