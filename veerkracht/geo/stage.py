"""Staging a year's polygons: from the chosen geometry source to ``geometry_<level>.parquet``.

Belongs here: the dispatch to a geometry source of :mod:`veerkracht.sources` and writing what it
returns for the warehouse, with counts per level.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from veerkracht import sources
from veerkracht.atomic import atomic_path
from veerkracht.codes import is_pseudo
from veerkracht.geo import userfile


def stage_geometries(
    year: int,
    levels: tuple[str, ...],
    embedded_dir: Path,
    staging_dir: Path,
    *,
    source: str = "embedded",
    raw_dir: Path | None = None,
    url: str | None = None,
    timeout: float = 120.0,
    files: list[tuple] | None = None,
) -> dict[str, dict]:
    """Write cleaned polygons of each level of ``year`` as ``geometry_<level>.parquet``; return stats.

    ``source`` names a geometry source of :data:`veerkracht.sources.SOURCES` (``embedded``: the
    snapshot's levels for that year; ``pdok``: the year's wijk- en buurtkaart, downloaded into
    ``raw_dir``). Areas with pseudo codes (``GM0998`` Buitenland, ``WKxxxx99`` water wijken, …)
    are counted but kept: the code pattern alone is not proof (WK010699 and WK168199 are real
    KWB 2024 wijken), and the warehouse only joins polygons to areas that the KWB table lists.
    ``files``: boundary files already read (:func:`veerkracht.geo.userfile.read_boundary_file`),
    whose polygons replace the source's for the areas they cover.
    """
    reader = sources.get("geometry", source).load()
    frames = reader.read_year(
        year, levels, embedded_dir=embedded_dir, raw_dir=raw_dir, url=url, timeout=timeout
    )
    if files:
        frames = userfile.overlay(frames, files)
    stats = {}
    # Write every level before renaming any into place: a failure leaves the previous set.
    with ExitStack() as stack:
        for level, gdf in frames.items():
            pseudo = gdf["code"].map(is_pseudo)
            tmp = stack.enter_context(atomic_path(Path(staging_dir) / f"geometry_{level}.parquet"))
            gdf.assign(level=level)[["code", "level", "geometry_source", "geometry"]].to_parquet(
                tmp, compression="zstd", schema_version="1.1.0"
            )
            stats[level] = {
                "areas": len(gdf),
                "pseudo_code_areas": int(pseudo.sum()),
                "geometry_source": gdf["geometry_source"].value_counts().to_dict(),
            }
    return stats
