"""Riding out a Redis that is unreachable, stalled, refusing clients or full: backoff, logs,
background work.

* :func:`is_transient`: what "Redis cannot serve this right now" looks like: a refused,
  dropped or timed-out connection, a server still loading its data, a replica that refuses
  writes after a failover, a full Redis (``OOM command not allowed`` under ``noeviction``),
  and uvloop's error for a write on a transport the server has just closed.
* :func:`retrying`: run a layer operation again after such an error, with backoff, until a
  deadline (the message expiry): a send made meanwhile is delivered late, not lost, and
  never raised into a consumer (no 1011 close). The operations it retries are idempotent
  (the same serialized members, a write id the server remembers: :mod:`.redis`).
* :class:`OutageLog`: one line when Redis goes away (or fills up), a reminder every 30 s,
  one when it is back saying how long it lasted; :func:`outage_for` picks the log.
* :func:`stall_watch`: a stalled Redis raises nothing (commands wait for it, see
  :mod:`.connections`), so a command unanswered for :data:`STALL_NOTICE` seconds says so,
  once per stall, and the first answer after it says how long it lasted.
* :func:`in_background`: fire-and-forget work whose failure is logged, never left as
  "Task exception was never retrieved".
* :func:`is_certificate_error`: an untrusted TLS certificate, which waiting never fixes:
  raised at once, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from buildpack import log, messages
from buildpack.runtime.aio import raise_if_cancelled

RETRY_BACKOFF = (0.1, 0.25, 0.5, 1.0)  # then every second: a refusal is cheap to retry
OUTAGE_LOG_EVERY = 30.0
STALL_NOTICE = 2.0  # a command unanswered this long means a stalled Redis
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


# Error replies that pass: full under noeviction, a replica after a failover, a server still
# loading its data. redis-py maps them to their classes (OutOfMemoryError, ReadOnlyError,
# BusyLoadingError) when the reply starts with the code, which Redis 8 also does for an error
# inside a Lua script; Redis 7 reports those as "Error running script ... -OOM ...".
WAITABLE_REPLIES = ("OOM command not allowed", "READONLY", "LOADING")


def is_full(exc: BaseException) -> bool:
    """Whether *exc* is Redis refusing a write because it reached ``maxmemory``."""
    import redis.exceptions

    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return True
    return isinstance(exc, redis.exceptions.ResponseError) and WAITABLE_REPLIES[0] in str(exc)


def is_transient(exc: BaseException) -> bool:
    """Whether *exc* means Redis cannot serve the command right now but may soon: worth
    waiting for (an untrusted certificate never is)."""
    import redis.exceptions

    if is_certificate_error(exc):
        return False
    waitable = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
    if isinstance(exc, waitable):  # refused, dropped, timed out, LOADING (BusyLoadingError)
        return True
    if isinstance(exc, (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError)):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        return any(reply in str(exc) for reply in WAITABLE_REPLIES)
    # uvloop: writing to a transport the server closed a moment ago
    return isinstance(exc, RuntimeError) and "handler is closed" in str(exc)


class OutageLog:
    """One log line when Redis goes away, a reminder every 30 s, one when it is back."""

    def __init__(self, began: str, ended: str, component: str = "redis") -> None:
        self.began = began
        self.ended = ended
        self.component = component
        self.since: float | None = None
        self.last_logged = 0.0
        self.listeners: list[weakref.WeakMethod[Callable[[], None]]] = []

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
        if now - self.last_logged >= OUTAGE_LOG_EVERY or self.last_logged == 0.0:
            self.last_logged = now
            error = f"{type(exc).__name__}: {exc}"
            log.runtime_warning(self.component, self.began.format(error=error))

    def recovered(self) -> None:
        if self.since is not None:
            seconds = time.monotonic() - self.since
            log.runtime(self.component, self.ended.format(seconds=seconds))
            self.since = None
            self.last_logged = 0.0
            for reference in list(self.listeners):
                listener = reference()
                if listener is None:
                    self.listeners.remove(reference)
                else:
                    listener()


# One per process: pools, readers and retried commands all report the same outage once.
OUTAGE = OutageLog(messages.REDIS_UNAVAILABLE, messages.REDIS_BACK)
FULL = OutageLog(messages.REDIS_FULL, messages.REDIS_WRITABLE_AGAIN)


class StallLog:
    """One line when a command has waited :data:`STALL_NOTICE` s, one at the first answer."""

    def __init__(self) -> None:
        self.since: float | None = None

    def noticed(self, started: float) -> None:
        if self.since is None:
            self.since = started
            waited = time.monotonic() - started
            log.runtime_warning("redis", messages.REDIS_STALLED.format(seconds=waited))

    def answered(self) -> None:
        if self.since is not None:
            seconds = time.monotonic() - self.since
            self.since = None
            log.runtime("redis", messages.REDIS_ANSWERS_AGAIN.format(seconds=seconds))


STALLED = StallLog()


@contextlib.contextmanager
def stall_watch(allowed: float = 0.0) -> Iterator[None]:
    """Say so if the block (one Redis command, expected to take up to *allowed* s) waits
    :data:`STALL_NOTICE` s longer than that."""
    started = time.monotonic()
    handle = asyncio.get_running_loop().call_later(allowed + STALL_NOTICE, STALLED.noticed, started)
    try:
        yield
    finally:
        handle.cancel()
        STALLED.answered()


def outage_for(exc: BaseException) -> OutageLog:
    """The log an error belongs to: Redis full, or Redis away."""
    return FULL if is_full(exc) else OUTAGE


def on_recovery(listener: Callable[[], None]) -> None:
    """Call *listener*, a bound method (no arguments, no await; held weakly), each time Redis
    is reachable again after an outage (e.g. to check whether it came back without its data)."""
    OUTAGE.listeners.append(weakref.WeakMethod(listener))


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


async def retrying(operation: Callable[[], Awaitable[T]], *, patience: float) -> T:
    """``await operation()``, again after a transient error (:func:`is_transient`), for up
    to *patience* seconds; anything else (an untrusted certificate too) is raised at once."""
    deadline = time.monotonic() + patience
    delays = iter(RETRY_BACKOFF)
    failed: OutageLog | None = None
    while True:
        try:
            with stall_watch():
                result = await operation()
        except Exception as exc:
            raise_if_cancelled()  # redis-py may surface our cancellation as an error
            delay = next(delays, RETRY_BACKOFF[-1])
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            failed = outage_for(exc)
            failed.failed(exc)
            await asyncio.sleep(delay)
            continue
        (failed or OUTAGE).recovered()
        return result
