"""One retry policy for every network call (CBS OData pages, PDOK downloads), on tenacity.

Belongs here: how often and how long to wait before trying a call again, and which failures are
worth another try. The callers say what counts as transient (a connection reset, a timeout, a
5xx) and how to describe a final failure; everything else fails at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

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
        fail: Callable[[BaseException, int], Exception] | None = None,
        catch: tuple[type[BaseException], ...] = (Exception,),
    ) -> T:
        """Return ``fn()``; retry transient failures; at the end raise ``fail(exc, attempts)``, or,
        without ``fail``, the last error itself with its ``attempts`` set."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=tenacity.wait_exponential(multiplier=self.backoff_s, exp_base=2, min=0),
            retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, catch) and transient(exc)),
            before_sleep=lambda state: log.warning(
                "%s failed (%s); retry %d of %d in %.1f s",
                what,
                state.outcome.exception(),
                state.attempt_number,
                self.retries,
                state.upcoming_sleep,
            ),
            reraise=True,
        )
        try:
            return retrying(fn)
        except catch as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            if fail is None:
                exc.attempts = attempts
                raise
            raise fail(exc, attempts) from exc
