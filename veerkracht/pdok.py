"""Geometries from the CBS/PDOK wijk- en buurtkaart GeoPackage, for a live (``pdok``) run.

Belongs here: where each year's GeoPackage lives (one table, :data:`WIJKBUURTKAART_URLS`),
downloading it safely (timeout, retries, temp file + rename, content hash) and reading its
gemeente, wijk and buurt layers into our shape (code, name, geometry_source, land only, pseudo
areas flagged). Cleaning to valid MultiPolygons is :func:`veerkracht.geometry.clean`.

The URLs follow PDOK's ATOM download naming for the wijken-en-buurten dataset since 2022; they
could not be reached from the development machine (no internet), so a moved file fails with the
URL in the error, and ``url=`` overrides the table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import requests

from veerkracht.geometry import RD_NEW, clean
from veerkracht.registry import is_pseudo

WIJKBUURTKAART_URLS: dict[int, str] = {
    year: f"https://service.pdok.nl/cbs/wijkenbuurten/{year}/atom/downloads/wijkenbuurten_{year}_v1.gpkg"
    for year in (2022, 2023, 2024, 2025)
}
#: Layer and field names in the GeoPackage (PDOK's 2022+ schema), per level.
LAYERS = {"gemeente": ("gemeenten", "gemeentecode", "gemeentenaam"),
          "wijk": ("wijken", "wijkcode", "wijknaam"),
          "buurt": ("buurten", "buurtcode", "buurtnaam")}
_GPKG_MAGIC = b"SQLite format 3\x00"


class PdokDownloadError(RuntimeError):
    """A wijk- en buurtkaart download failed; the message names year, URL and cause."""


def download_gpkg(year: int, dest_dir: Path, *, url: str | None = None, timeout: float = 120.0,
                  retries: int = 3, backoff_s: float = 2.0) -> Path:
    """Download the year's GeoPackage to ``dest_dir/wijkenbuurten_<year>.gpkg``; return the path.

    Streams to a temporary file and renames it into place only when complete and a GeoPackage,
    so a failed or killed download never replaces an earlier good file.
    """
    if url is None:
        if year not in WIJKBUURTKAART_URLS:
            raise PdokDownloadError(f"No wijk- en buurtkaart URL known for {year}; known years: "
                                    f"{', '.join(map(str, WIJKBUURTKAART_URLS))} (pass url=)")
        url = WIJKBUURTKAART_URLS[year]
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"wijkenbuurten_{year}.gpkg"
    for attempt in range(retries + 1):
        fd, tmp_name = tempfile.mkstemp(prefix=".partial-", suffix=".gpkg", dir=dest_dir)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, requests.get(url, stream=True, timeout=timeout) as resp:
                resp.raise_for_status()
                for chunk in resp.iter_content(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
            if tmp.read_bytes()[:16] != _GPKG_MAGIC:
                raise PdokDownloadError(f"Wijk- en buurtkaart {year} from {url}: not a GeoPackage")
            os.replace(tmp, target)
            (dest_dir / f"wijkenbuurten_{year}.json").write_text(json.dumps({
                "url": url, "sha256": digest.hexdigest(),
                "downloaded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}))
            return target
        except requests.RequestException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            transient = status is None or status >= 500
            if transient and attempt < retries:
                time.sleep(backoff_s * 2**attempt)
                continue
            raise PdokDownloadError(f"Download of wijk- en buurtkaart {year} from {url} failed: "
                                    f"{f'HTTP {status}: ' if status else ''}{exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def read_level(path: Path, level: str, year: int) -> gpd.GeoDataFrame:
    """One level of a wijk- en buurtkaart GeoPackage: land parts only, cleaned, pseudo areas flagged."""
    layer, code_field, name_field = LAYERS[level]
    available = {name for name, _ in pyogrio.list_layers(path)}
    if layer not in available:
        raise ValueError(f"{path} has no layer {layer!r} (layers: {sorted(available)})")
    gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    if "water" in gdf.columns:
        # PDOK splits areas into land and water parts (water = 'JA'/'NEE'); the maps show land.
        gdf = gdf[gdf["water"].astype(str).str.upper() != "JA"]
    out = gpd.GeoDataFrame({
        "code": gdf[code_field].astype(str).str.strip(),
        "name": gdf[name_field].astype(str).str.strip() if name_field in gdf else None,
        "geometry_source": f"pdok_wijkenbuurten_{year}",
    }, geometry=gdf.geometry.values, crs=gdf.crs or RD_NEW)
    out = clean(out.to_crs(RD_NEW)).dissolve(by="code", as_index=False, aggfunc="first")
    out["is_pseudo"] = out["code"].map(is_pseudo)
    return out
