"""What one HTTP response may cost: a wall-clock deadline, a size cap, a page cap, no loops.

Belongs here: bounding the responses of CBS OData and PDOK downloads. requests' ``timeout``
bounds each socket read, not a response: a server that trickles a byte a second, sends without
end, or pages with an ``odata.nextLink`` back to a page already read would hold a run for ever
(issue 15, item 3). The body is read here with ``read1``, which returns as soon as any bytes
arrive, so the clock and the byte count are checked however slowly they come.

cbsodata opens a new ``requests.Session`` for every page and takes no session or hook; its one
seam is the ``Session`` name it imported (:func:`limited_cbsodata` says why no other exists).
That name is pointed at sessions whose adapter applies the limits and retries each page by itself
(a failed page used to download the whole table again), for one call and under a lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import cbsodata.cbsodata3
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from veerkracht.retry import RetryPolicy

_CHUNK = 1 << 16
_CBSODATA_LOCK = threading.Lock()


@dataclass(frozen=True)
class ResponseLimits:
    """``deadline_s`` wall clock from request to last byte; ``max_bytes`` decoded body size;
    ``max_pages`` requests to one path within one download (CBS pages 10,000 rows)."""

    deadline_s: float = 600.0
    max_bytes: int = 512 << 20
    max_pages: int = 100

    def __post_init__(self) -> None:
        if not (self.deadline_s > 0 and self.max_bytes > 0 and self.max_pages > 0):
            raise ValueError(f"Response limits must be positive: {self}")


class ResponseLimitExceeded(requests.RequestException):
    """A response broke a limit. Not transient: trying again would cost the same again."""


def read_chunks(
    resp: requests.Response, limits: ResponseLimits, started: float | None = None
) -> Iterator[bytes]:
    """The decoded body of a ``stream=True`` response in chunks, within ``limits``.

    ``started`` is the ``time.monotonic()`` at which the request was sent (default: now).
    """
    started = time.monotonic() if started is None else started
    url = resp.url
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        resp.close()
        raise ResponseLimitExceeded(
            f"the response from {url} declares {int(declared):,} bytes, more than the cap of "
            f"{limits.max_bytes:,}"
        )
    total = 0
    while True:
        data = _read1(resp)
        if not data:
            return
        total += len(data)
        elapsed = time.monotonic() - started
        if total > limits.max_bytes or elapsed > limits.deadline_s:
            resp.close()
            raise ResponseLimitExceeded(
                f"the response from {url} passed the cap of {limits.max_bytes:,} bytes"
                if total > limits.max_bytes
                else f"the response from {url} was still arriving after {elapsed:.1f} s "
                f"({total:,} bytes so far; the deadline per response is {limits.deadline_s:g} s)"
            )
        yield data


def _read1(resp: requests.Response) -> bytes:
    # Map urllib3's errors to requests' the way Response.iter_content does, so callers' retry
    # rules (a reset mid-body is transient) keep working.
    try:
        return resp.raw.read1(_CHUNK, decode_content=True)
    except ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from exc
    except ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc


class PageGuard:
    """Counts the requests of one download: a page cap per path, and no URL twice (a loop)."""

    def __init__(self, limits: ResponseLimits):
        self.limits = limits
        self._seen: set[str] = set()
        self._pages: Counter[str] = Counter()

    def request(self, url: str) -> None:
        if url in self._seen:
            raise ResponseLimitExceeded(
                f"{url} was requested twice in one download: the server's odata.nextLink loops"
            )
        self._seen.add(url)
        path = urlsplit(url).path.rstrip("/")  # the fixture's nextLink adds a slash; one part
        self._pages[path] += 1
        if self._pages[path] > self.limits.max_pages:
            raise ResponseLimitExceeded(
                f"{path} answered with more than {self.limits.max_pages} pages (the page cap)"
            )


def transient_http(exc: BaseException) -> bool:
    """Worth another try: a dropped or reset connection, a timeout, a 5xx answer."""
    if isinstance(
        exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
    ):
        return True
    response = getattr(exc, "response", None)
    return response is not None and response.status_code >= 500


class _LimitedAdapter(HTTPAdapter):
    """Each request within the limits, and retried by itself (one page, not the whole table)."""

    def __init__(self, guard: PageGuard, retry: RetryPolicy):
        super().__init__()
        self._guard = guard
        self._retry = retry

    def send(self, request, stream=False, **kwargs):
        self._guard.request(request.url)  # once per page, however often it is tried

        def once():
            started = time.monotonic()
            resp = super(_LimitedAdapter, self).send(request, stream=True, **kwargs)
            if resp.status_code >= 500:
                resp.close()
                raise requests.HTTPError(
                    f"{resp.status_code} Server Error: {resp.reason} for url: {resp.url}", response=resp
                )
            if not stream:
                # What Session.send's ``r.content`` would read, read within the limits instead.
                resp._content = b"".join(read_chunks(resp, self._guard.limits, started))
                resp.close()
            return resp

        return self._retry.call(
            once, what=f"GET {request.url}", transient=transient_http, catch=(requests.RequestException,)
        )


def limited_session(guard: PageGuard, retry: RetryPolicy = RetryPolicy(0)) -> requests.Session:
    session = requests.Session()
    adapter = _LimitedAdapter(guard, retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextlib.contextmanager
def limited_cbsodata(limits: ResponseLimits, retry: RetryPolicy = RetryPolicy(0)):
    """Within the block, every request cbsodata makes is bounded by ``limits`` (one download)
    and a page that fails transiently is tried again by itself, ``retry``'s way.

    Why a module global is swapped, under a lock: cbsodata builds each page's request itself and
    sends it with a ``Session()`` of its own, made from the name it imported. What it passes on
    (``options.requests``, the call's keyword arguments) reaches ``Session.send`` and from there
    the adapter's ``send``, which takes only stream, timeout, verify, cert and proxies: neither a
    hook (hooks live on the request cbsodata prepares) nor an adapter can come in that way. The
    ``Session`` name is the one seam, so it is pointed at limited sessions for one call.
    """
    guard = PageGuard(limits)
    with _CBSODATA_LOCK:
        original = cbsodata.cbsodata3.Session
        cbsodata.cbsodata3.Session = lambda: limited_session(guard, retry)
        try:
            yield guard
        finally:
            cbsodata.cbsodata3.Session = original
