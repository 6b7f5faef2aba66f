"""What one HTTP response may cost: a wall-clock deadline, a size cap, a page cap, no loops.

Belongs here: bounding the responses of CBS OData and PDOK downloads. requests' ``timeout``
bounds each socket read, not a response: a server that trickles a byte a second, sends without
end, or pages with an ``odata.nextLink`` back to a page already read would hold a run for ever
(issue 15, item 3). The body is read here with ``read1``, which returns as soon as any bytes
arrive, so the clock and the byte count are checked however slowly they come.

cbsodata opens a new ``requests.Session`` for every page and takes no session or hook; its one
seam is the ``Session`` name it imported. :func:`limited_cbsodata` points that name at sessions
whose adapter applies the limits, for the duration of one call and under a lock, the way
``cbs_client`` already sets cbsodata's module-level catalog options.
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


class _LimitedAdapter(HTTPAdapter):
    def __init__(self, guard: PageGuard):
        super().__init__()
        self._guard = guard

    def send(self, request, stream=False, **kwargs):
        self._guard.request(request.url)
        started = time.monotonic()
        resp = super().send(request, stream=True, **kwargs)
        if not stream:
            # What Session.send's ``r.content`` would read, read within the limits instead.
            resp._content = b"".join(read_chunks(resp, self._guard.limits, started))
            resp.close()
        return resp


def limited_session(guard: PageGuard) -> requests.Session:
    session = requests.Session()
    adapter = _LimitedAdapter(guard)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextlib.contextmanager
def limited_cbsodata(limits: ResponseLimits):
    """Within the block, every request cbsodata makes is bounded by ``limits`` (one download)."""
    guard = PageGuard(limits)
    with _CBSODATA_LOCK:
        original = cbsodata.cbsodata3.Session
        cbsodata.cbsodata3.Session = lambda: limited_session(guard)
        try:
            yield guard
        finally:
            cbsodata.cbsodata3.Session = original
