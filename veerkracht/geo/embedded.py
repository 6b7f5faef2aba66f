"""Geometry source ``embedded``: the polygons shipped in ``data/embedded/geometries/<year>/``.

Which years and levels are shipped is in the year registry (``embedded_geometry``); the files
themselves are real CBS/PDOK polygons, see data/embedded/README.md.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from veerkracht.codes import LEVELS
from veerkracht.geo.geometry import read_geometries
from veerkracht.integrity import verify_embedded


def embedded_geometry_path(embedded_dir: Path, year: int, level: str) -> Path:
    """Where the embedded snapshot keeps ``level`` polygons of ``year``."""
    return Path(embedded_dir) / "geometries" / str(year) / f"{level}.parquet"


def levels_available(year: int, *, embedded_dir: Path, url: str | None = None) -> tuple[str, ...]:
    """The levels of ``year`` the snapshot has polygons for."""
    folder = Path(embedded_dir) / "geometries" / str(year)
    return tuple(lv for lv in LEVELS if (folder / f"{lv}.parquet").is_file())


def read_year(
    year: int,
    levels: tuple[str, ...],
    *,
    embedded_dir: Path,
    raw_dir: Path | None = None,
    url: str | None = None,
    timeout: float = 120.0,
) -> dict[str, gpd.GeoDataFrame]:
    """Cleaned polygons of the requested ``levels`` the snapshot has for ``year`` (2019 has
    gemeenten and buurten only); a year with none is an error naming the years it has."""
    available = [lv for lv in levels if lv in levels_available(year, embedded_dir=embedded_dir)]
    if not available:
        years = sorted(p.name for p in (Path(embedded_dir) / "geometries").iterdir())
        raise FileNotFoundError(f"No embedded geometries for {year}; the snapshot has {', '.join(years)}")
    frames = {}
    for lv in available:
        path = embedded_geometry_path(embedded_dir, year, lv)
        verify_embedded(path, embedded_dir)
        frames[lv] = read_geometries(path)
    return frames
