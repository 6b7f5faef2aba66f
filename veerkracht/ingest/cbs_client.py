"""Download CBS OData v3 tables with cbsodata: timeouts, retries, clear errors.

Belongs here: the network calls and turning their answers into a :class:`KwbSnapshot`. Nothing
here falls back to other data: a failure raises :class:`CbsDownloadError` naming the table, the
URL and the cause, and the caller decides what to do.

Why cbsodata and not hand-written requests: cbsodata already knows the feed's layout (service
document, metadata tables, ``odata.nextLink`` paging, which it follows verbatim). What it lacks
is added around it here: a timeout on every read (it has none by default), limits on every
response (a wall-clock deadline, a size cap, a page cap, no ``odata.nextLink`` loops:
:mod:`veerkracht.http_limits`) and retries with backoff on connection resets, timeouts and 5xx
answers, each page by itself (a failed third page is asked again, not the whole table).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass

import cbsodata
import pandas as pd
import requests

from veerkracht.http_limits import ResponseLimitExceeded, ResponseLimits, limited_cbsodata
from veerkracht.ingest.snapshot import KwbSnapshot
from veerkracht.retry import RetryPolicy

DEFAULT_CATALOG = "opendata.cbs.nl"
log = logging.getLogger(__name__)


class CbsDownloadError(RuntimeError):
    """A CBS download failed for good; the message names table, URL and cause."""


@dataclass(frozen=True)
class CbsEndpoint:
    """Where and how to reach the OData v3 feed.

    ``retries`` extra attempts after the first, waiting ``backoff_s * 2**n`` between them;
    ``timeout_s`` bounds each read, ``limits`` each response.
    """

    catalog_url: str = DEFAULT_CATALOG
    use_https: bool = True
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 2.0
    limits: ResponseLimits = ResponseLimits()

    def table_url(self, table_id: str) -> str:
        scheme = "https" if self.use_https else "http"
        return f"{scheme}://{self.catalog_url}/{cbsodata.cbsodata3.BULK}/{table_id}/"


@contextlib.contextmanager
def _catalog(endpoint: CbsEndpoint):
    # cbsodata keeps host and scheme in module-level options; restore them so one call cannot
    # change the behaviour of the next.
    old_url, old_https = cbsodata.options.catalog_url, cbsodata.options.use_https
    cbsodata.options.catalog_url, cbsodata.options.use_https = endpoint.catalog_url, endpoint.use_https
    try:
        yield
    finally:
        cbsodata.options.catalog_url, cbsodata.options.use_https = old_url, old_https


def _status(exc: BaseException) -> int | None:
    """HTTP status behind an error (cbsodata re-raises HTTPError without the response)."""
    for e in (exc, exc.__cause__):
        response = getattr(e, "response", None)
        if response is not None:
            return response.status_code
    return None


def _with_retries(what: str, url: str, endpoint: CbsEndpoint, call):
    """``call`` with cbsodata bounded and each page retried by itself (:mod:`veerkracht.http_limits`);
    a final failure as :class:`CbsDownloadError` naming the table, the URL and the cause."""
    try:
        with (
            limited_cbsodata(endpoint.limits, RetryPolicy(endpoint.retries, endpoint.backoff_s)),
            _catalog(endpoint),
        ):
            return call()
    except (requests.RequestException, json.JSONDecodeError, KeyError, ValueError) as exc:
        attempts = getattr(exc, "attempts", None) or getattr(exc.__cause__, "attempts", 1)
        raise CbsDownloadError(_describe(what, url, exc, attempts - 1)) from exc


def _describe(what: str, url: str, exc: BaseException, retries_done: int) -> str:
    tried = f" after {retries_done + 1} attempts" if retries_done else ""
    if isinstance(exc, requests.Timeout):
        cause = f"timed out ({exc})"
    elif isinstance(exc, ResponseLimitExceeded):
        cause = str(exc)
    elif isinstance(exc, json.JSONDecodeError):
        cause = f"the server answered with malformed JSON ({exc})"
    elif isinstance(exc, KeyError):
        cause = f"the answer lacks the field {exc} (not an OData v3 response?)"
    elif _status(exc) is not None:
        cause = f"HTTP {_status(exc)}: {exc}"
    else:
        cause = f"{type(exc).__name__}: {exc}"
    return f"{what} from {url} failed{tried}: {cause}"


def download_table(table_id: str, endpoint: CbsEndpoint = CbsEndpoint()) -> dict[str, list[dict]]:
    """Every part of ``table_id`` (TypedDataSet, DataProperties, TableInfos, dimensions, ...)."""
    # cbsodata 1.3.5 *removes* the named set from its download list, so typed=False is the call
    # that downloads TypedDataSet (numbers as numbers, nulls as null).
    return _with_retries(
        f"Download of {table_id}",
        endpoint.table_url(table_id),
        endpoint,
        lambda: cbsodata.download_data(table_id, typed=False, timeout=endpoint.timeout_s),
    )


def table_part(table_id: str, part: str, endpoint: CbsEndpoint = CbsEndpoint()) -> list[dict]:
    """One part of a table (``TableInfos``, ``UntypedDataSet``, ...), following every page."""
    return _with_retries(
        f"Download of {table_id}/{part}",
        endpoint.table_url(table_id) + part,
        endpoint,
        lambda: cbsodata.get_meta(table_id, part, timeout=endpoint.timeout_s),
    )


def table_modified(table_id: str, endpoint: CbsEndpoint = CbsEndpoint()) -> str | None:
    """``TableInfos.Modified`` of ``table_id``: cheap to poll, changes with every revision."""
    infos = table_part(table_id, "TableInfos", endpoint)
    return infos[0].get("Modified") if infos else None


def catalog_tables(endpoint: CbsEndpoint = CbsEndpoint()) -> list[dict]:
    """The ODataCatalog's table list (Identifier, Title, Modified, ...)."""
    scheme = "https" if endpoint.use_https else "http"
    url = f"{scheme}://{endpoint.catalog_url}/ODataCatalog/Tables"
    return _with_retries(
        "Catalog listing", url, endpoint, lambda: cbsodata.get_table_list(timeout=endpoint.timeout_s)
    )


def download_kwb(table_id: str, endpoint: CbsEndpoint = CbsEndpoint()) -> KwbSnapshot:
    """Download a KWB table (TypedDataSet + DataProperties + TableInfos) as a snapshot.

    Region keys in ``WijkenEnBuurten`` are replaced by their titles, as ``cbsodata.get_data``
    does, so a download has the same shape as the embedded snapshot; the code stays in
    ``Codering_3``.
    """
    url = endpoint.table_url(table_id)
    started = dt.datetime.now(dt.UTC)
    raw = download_table(table_id, endpoint)
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
        manifest={
            "source": url,
            "downloaded_at": started.isoformat(timespec="seconds"),
            "licence": "CC BY 4.0, (c) CBS",
        },
    )
