"""Geometries from the CBS/PDOK wijk- en buurtkaart GeoPackage, for a live (``pdok``) run.

Belongs here: downloading a year's GeoPackage (its URL is in the year registry,
:mod:`veerkracht.registry`) safely (a timeout per read, a deadline and a size cap per response,
retries, temp file + rename, content hash), and reading its gemeente, wijk and buurt layers into
our shape (code, name, geometry_source, land only, pseudo areas flagged). Cleaning to valid
MultiPolygons is :func:`veerkracht.geometry.clean`.

This is the geometry source ``pdok`` of :mod:`veerkracht.sources`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import requests

from veerkracht.atomic import atomic_path
from veerkracht.codes import LEVELS, is_pseudo
from veerkracht.geo import RD_NEW
from veerkracht.geo.geometry import clean
from veerkracht.http_limits import ResponseLimitExceeded, ResponseLimits, read_chunks
from veerkracht.registry import YEARS
from veerkracht.retry import RetryPolicy

#: Year -> GeoPackage URL (a view of the year registry).
WIJKBUURTKAART_URLS: dict[int, str] = {r.year: r.wijkbuurtkaart_url for r in YEARS if r.wijkbuurtkaart_url}
#: Layer and field names in the GeoPackage (PDOK's 2022+ schema), per level.
LAYERS = {
    "gemeente": ("gemeenten", "gemeentecode", "gemeentenaam"),
    "wijk": ("wijken", "wijkcode", "wijknaam"),
    "buurt": ("buurten", "buurtcode", "buurtnaam"),
}
_GPKG_MAGIC = b"SQLite format 3\x00"
#: One GeoPackage of all of the Netherlands is a few hundred MB; a response past 4 GB or still
#: arriving after an hour is not that file.
PDOK_LIMITS = ResponseLimits(deadline_s=3600.0, max_bytes=4 << 30, max_pages=1)


class PdokDownloadError(RuntimeError):
    """A wijk- en buurtkaart download failed; the message names year, URL and cause."""


def download_gpkg(
    year: int,
    dest_dir: Path,
    *,
    url: str | None = None,
    timeout: float = 120.0,
    retries: int = 3,
    backoff_s: float = 2.0,
    limits: ResponseLimits = PDOK_LIMITS,
) -> Path:
    """Download the year's GeoPackage to ``dest_dir/wijkenbuurten_<year>.gpkg``; return the path.

    Streams to a temporary file and renames it into place only when complete and a GeoPackage,
    so a failed or killed download never replaces an earlier good file.
    """
    if url is None:
        if year not in WIJKBUURTKAART_URLS:
            raise PdokDownloadError(
                f"No wijk- en buurtkaart URL known for {year}; known years: "
                f"{', '.join(map(str, WIJKBUURTKAART_URLS))} (pass url=)"
            )
        url = WIJKBUURTKAART_URLS[year]
    target = Path(dest_dir) / f"wijkenbuurten_{year}.gpkg"

    def fetch() -> str:
        digest, started = hashlib.sha256(), time.monotonic()
        with (
            atomic_path(target, verify=_is_gpkg(year, url)) as tmp,
            tmp.open("wb") as out,
            requests.get(url, stream=True, timeout=timeout) as resp,
        ):
            resp.raise_for_status()
            for chunk in read_chunks(resp, limits, started):
                out.write(chunk)
                digest.update(chunk)
            out.close()  # before verify and rename
        return digest.hexdigest()

    sha256 = RetryPolicy(retries, backoff_s).call(
        fetch,
        what=f"Download of wijk- en buurtkaart {year} from {url}",
        transient=_transient,
        catch=(requests.RequestException,),
        fail=lambda exc, n: PdokDownloadError(
            f"Download of wijk- en buurtkaart {year} from {url} failed"
            f"{f' after {n} attempts' if n > 1 else ''}: {_status_text(exc)}{exc}"
        ),
    )
    (Path(dest_dir) / f"wijkenbuurten_{year}.json").write_text(
        json.dumps(
            {
                "url": url,
                "sha256": sha256,
                "downloaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        )
    )
    return target


def _status_text(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"HTTP {status}: " if status else ""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ResponseLimitExceeded):
        return False
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status is None or status >= 500


def _is_gpkg(year: int, url: str):
    def verify(path: Path) -> None:
        with path.open("rb") as f:
            if f.read(16) != _GPKG_MAGIC:
                raise PdokDownloadError(f"Wijk- en buurtkaart {year} from {url}: not a GeoPackage")

    return verify


def levels_available(
    year: int, *, embedded_dir: Path | None = None, url: str | None = None
) -> tuple[str, ...]:
    """All levels for a year PDOK publishes a GeoPackage for (or any year, given ``url``)."""
    return LEVELS if (url or year in WIJKBUURTKAART_URLS) else ()


def read_year(
    year: int,
    levels: tuple[str, ...],
    *,
    embedded_dir: Path | None = None,
    raw_dir: Path | None = None,
    url: str | None = None,
    timeout: float = 120.0,
) -> dict[str, gpd.GeoDataFrame]:
    """Download the year's GeoPackage into ``raw_dir/geometries/<year>/`` and read ``levels``."""
    if raw_dir is None:
        raise ValueError("The pdok geometry source needs raw_dir to keep its download in")
    gpkg = download_gpkg(year, Path(raw_dir) / "geometries" / str(year), url=url, timeout=timeout)
    return {level: read_level(gpkg, level, year) for level in levels}


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
    out = gpd.GeoDataFrame(
        {
            "code": gdf[code_field].astype(str).str.strip(),
            "name": gdf[name_field].astype(str).str.strip() if name_field in gdf else None,
            "geometry_source": f"pdok_wijkenbuurten_{year}",
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs or RD_NEW,
    )
    out = clean(out.to_crs(RD_NEW)).dissolve(by="code", as_index=False, aggfunc="first")
    out["is_pseudo"] = out["code"].map(is_pseudo)
    return out
