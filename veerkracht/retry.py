"""One retry policy for every network call (CBS OData, PDOK downloads).

Belongs here: how often and how long to wait before trying a call again, and which failures are
worth another try. The callers say what counts as transient (a connection reset, a timeout, a
5xx) and how to describe a final failure; everything else fails at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts after the first, waiting ``backoff_s * 2**n`` before attempt n+1."""

    retries: int = 3
    backoff_s: float = 2.0

    def call(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        transient: Callable[[BaseException], bool],
        fail: Callable[[BaseException, int], Exception],
        catch: tuple[type[BaseException], ...] = (Exception,),
    ) -> T:
        """Return ``fn()``; retry transient failures; raise ``fail(exc, attempts)`` at the end."""
        attempt = 0
        while True:
            try:
                return fn()
            except catch as exc:
                if transient(exc) and attempt < self.retries:
                    wait = self.backoff_s * 2**attempt
                    attempt += 1
                    log.warning(
                        "%s failed (%s); retry %d of %d in %.1f s", what, exc, attempt, self.retries, wait
                    )
                    time.sleep(wait)
                    continue
                raise fail(exc, attempt + 1) from exc
