"""Riding out a Redis that is unreachable or refusing clients: backoff, logs, background work.

* :func:`retrying`: run a layer operation again after a connection error, with backoff,
  until a deadline (the message expiry): a send made while Redis briefly refuses clients
  is delivered late, not lost, and never raised into a consumer (no 1011 close).
* :class:`OutageLog`: one line when Redis goes away, a reminder every 30 s, one when back.
* :func:`in_background`: fire-and-forget work whose failure is logged, never left as
  "Task exception was never retrieved".
* :func:`is_certificate_error`: an untrusted TLS certificate, which waiting never fixes:
  raised at once, not retried.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from buildpack import log, messages
from buildpack.runtime.aio import raise_if_cancelled

RETRY_BACKOFF = (0.1, 0.25, 0.5, 1.0)  # then every second: a refusal is cheap to retry
OUTAGE_LOG_EVERY = 30.0
T = TypeVar("T")


def is_certificate_error(exc: BaseException) -> bool:
    """Whether *exc* (or what it wraps: redis-py re-raises as ``ConnectionError``) is a
    failed TLS certificate verification."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class OutageLog:
    """One log line when Redis goes away, a reminder every 30 s, one when it is back."""

    def __init__(self, component: str = "redis") -> None:
        self.component = component
        self.since: float | None = None
        self.last_logged = 0.0

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
        if now - self.last_logged >= OUTAGE_LOG_EVERY or self.last_logged == 0.0:
            self.last_logged = now
            error = f"{type(exc).__name__}: {exc}"
            log.runtime_warning(self.component, messages.REDIS_UNAVAILABLE.format(error=error))

    def recovered(self) -> None:
        if self.since is not None:
            log.runtime(
                self.component,
                f"channel layer reachable again after {time.monotonic() - self.since:.1f} s",
            )
        self.since = None
        self.last_logged = 0.0


# One per process: pools, readers and retried commands all report the same outage once.
OUTAGE = OutageLog()
AT_LIMIT_LOG_EVERY = 300.0
_at_limit_logged = [0.0]


def refused_at_limit(exc: BaseException, open_connections: int) -> None:
    """Redis refused an extra connection but this process goes on with the ones it has:
    not an outage; one line every 5 minutes at most."""
    now = time.monotonic()
    if now - _at_limit_logged[0] >= AT_LIMIT_LOG_EVERY or _at_limit_logged[0] == 0.0:
        _at_limit_logged[0] = now
        log.runtime(
            "redis",
            messages.REDIS_AT_LIMIT.format(
                error=f"{type(exc).__name__}: {exc}", open=open_connections
            ),
        )


_background: set[asyncio.Future[Any]] = set()


def in_background(awaitable: Awaitable[Any], what: str) -> asyncio.Future[Any]:
    """Run *awaitable* as a task nobody awaits; a failure is logged once, as *what*."""
    task = asyncio.ensure_future(awaitable)
    _background.add(task)

    def done(finished: asyncio.Future[Any]) -> None:
        _background.discard(finished)
        if finished.cancelled():
            return
        exc = finished.exception()  # retrieved: asyncio never reports it
        if exc is not None:
            log.runtime_warning(
                "redis", messages.REDIS_BACKGROUND_FAILED.format(what=what, error=exc)
            )

    task.add_done_callback(done)
    return task


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    patience: float,
    errors: tuple[type[BaseException], ...],
    outage: OutageLog = OUTAGE,
) -> T:
    """``await operation()``, again after a connection error, for up to *patience* seconds
    (an untrusted certificate is raised at once)."""
    deadline = time.monotonic() + patience
    delays = iter(RETRY_BACKOFF)
    while True:
        try:
            result = await operation()
        except errors as exc:
            raise_if_cancelled()  # redis-py may surface our cancellation as an error
            delay = next(delays, RETRY_BACKOFF[-1])
            if time.monotonic() + delay > deadline or is_certificate_error(exc):
                raise
            outage.failed(exc)
            await asyncio.sleep(delay)
            continue
        outage.recovered()
        return result
