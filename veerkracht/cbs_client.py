"""Download a KWB table from the CBS OData v3 API with cbsodata.

Belongs here: the network call and turning its answer into a :class:`KwbSnapshot`. Nothing
here falls back to other data: a failure raises :class:`CbsDownloadError` naming the table, the
URL and the cause, and the caller decides what to do (the pipeline fails the run).

cbsodata has no default timeout, so one is always passed; it follows ``odata.nextLink``
verbatim, which is how the feed pages beyond 10,000 rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json

import cbsodata
import pandas as pd
import requests

from veerkracht.snapshot import KwbSnapshot

DEFAULT_CATALOG = "opendata.cbs.nl"


class CbsDownloadError(RuntimeError):
    """A KWB download failed; the message names table, URL and cause."""


@contextlib.contextmanager
def _catalog(catalog_url: str, use_https: bool):
    # cbsodata keeps the scheme in a module-level option; restore it so one call cannot
    # change the behaviour of the next.
    old_url, old_https = cbsodata.options.catalog_url, cbsodata.options.use_https
    cbsodata.options.catalog_url, cbsodata.options.use_https = catalog_url, use_https
    try:
        yield
    finally:
        cbsodata.options.catalog_url, cbsodata.options.use_https = old_url, old_https


def table_url(table_id: str, catalog_url: str = DEFAULT_CATALOG, use_https: bool = True) -> str:
    """The feed URL cbsodata requests for ``table_id``."""
    scheme = "https" if use_https else "http"
    return f"{scheme}://{catalog_url}/{cbsodata.cbsodata3.BULK}/{table_id}/"


def download_kwb(
    table_id: str,
    *,
    catalog_url: str = DEFAULT_CATALOG,
    use_https: bool = True,
    timeout: float = 60.0,
) -> KwbSnapshot:
    """Download ``table_id`` (TypedDataSet + DataProperties + TableInfos) as a snapshot.

    Region keys in ``WijkenEnBuurten`` are replaced by their titles, as ``cbsodata.get_data``
    does, so a download has the same shape as the embedded snapshot; the code stays in
    ``Codering_3``.
    """
    url = table_url(table_id, catalog_url, use_https)
    started = dt.datetime.now(dt.timezone.utc)
    try:
        with _catalog(catalog_url, use_https):
            # cbsodata 1.3.5 *removes* the named set from its download list, so typed=False is
            # the call that downloads TypedDataSet (numbers as numbers, nulls as null).
            raw = cbsodata.download_data(table_id, typed=False, timeout=timeout)
    except requests.Timeout as exc:
        raise CbsDownloadError(f"Download of {table_id} from {url} timed out after {timeout}s: {exc}") from exc
    except (requests.RequestException, json.JSONDecodeError, KeyError, ValueError) as exc:
        raise CbsDownloadError(f"Download of {table_id} from {url} failed: {type(exc).__name__}: {exc}") from exc

    for name in ("TypedDataSet", "DataProperties", "TableInfos"):
        if name not in raw:
            raise CbsDownloadError(f"Download of {table_id} from {url}: the service has no {name}")
    data = pd.DataFrame(raw["TypedDataSet"])
    if data.empty:
        raise CbsDownloadError(f"Download of {table_id} from {url}: TypedDataSet is empty")
    labels = {r["Key"]: r["Title"] for r in raw.get("WijkenEnBuurten", [])}
    if "WijkenEnBuurten" in data and labels:
        data["WijkenEnBuurten"] = data["WijkenEnBuurten"].map(lambda k: labels.get(k, k))
    infos = raw["TableInfos"]
    modified = (infos[0].get("Modified") or "")[:10] if infos else ""
    return KwbSnapshot(
        table_id=table_id,
        vintage=modified or started.date().isoformat(),
        data=data,
        data_properties=raw["DataProperties"],
        table_infos=infos,
        manifest={"source": url, "downloaded_at": started.isoformat(timespec="seconds"),
                  "licence": "CC BY 4.0, (c) CBS"},
    )
