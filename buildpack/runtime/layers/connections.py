"""Redis connections for the channel layers: safe options, and a pool that keeps a budget.

Heroku Key-Value Store's mini plan allows 20 clients for the whole app, so every
connection counts. Each process of ours holds, per Redis host:

* one blocking reader connection when it receives (see :mod:`.reader`), and
* a small shared command pool (sends, group operations, wake tokens): a
  :class:`BudgetPool` whose ceiling is the per-process *client budget*
  (``max_connections`` in the host dict, ``CHANNELS_REDIS_MAX_CONNECTIONS``, default 3)
  minus the readers. Surplus idle connections are closed after a few seconds, so a burst
  does not hold clients for the rest of the day.

A refused connection (``max number of clients reached``, a restarting server) is not an
error for a command: while this process still has an open connection the command waits
for it; otherwise it backs off and tries again, up to the layer's message expiry.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from redis.asyncio import BlockingConnectionPool

from buildpack import envvars
from buildpack.runtime.layers.resilience import (
    OUTAGE,
    RETRY_BACKOFF,
    in_background,
    is_transient,
    refused_at_limit,
)

# Blocking pops wait up to ``brpop_timeout`` (5 s) on the server. A reply slower than that
# plus this margin means the server is stalled (a snapshot fork, maintenance, a noisy
# neighbour) or gone. A stalled server still answers in the end, and giving up on a command
# it will run later loses what it pops and may run a write twice, so a connection waits a
# minute (the default message expiry) before it counts as dead; a dead peer is found sooner
# by TCP keepalive (~60 s) or a reset.
SOCKET_TIMEOUT_MARGIN = 60.0
CONNECT_TIMEOUT = 5.0
# Ping a pooled connection before reuse when it sat idle this long (half-open sockets
# after a failover or a NAT timeout are found before a real command is lost on them).
HEALTH_CHECK_INTERVAL = 30
# per process and Redis host: 1 reader + up to 2 for commands (CHANNELS_REDIS_MAX_CONNECTIONS)
DEFAULT_CLIENT_BUDGET = envvars.REDIS_MAX_CONNECTIONS.default
POOL_WAIT_TIMEOUT = 20.0
DEFAULT_PATIENCE = 60.0  # how long a refused command keeps trying (the default expiry)
IDLE_TRIM_SECONDS = 5.0  # an idle connection beyond KEEP_OPEN is closed after this long
KEEP_OPEN = 1
READER_SHARE = 1  # a command pool always leaves one client of the budget to a reader


def _keepalive_options() -> dict[int, int]:
    """Linux TCP keepalive: notice a silently dead peer in ~1 min instead of ~2 h."""
    options: dict[int, int] = {}
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            options[getattr(socket, name)] = value
    return options


def connection_defaults(brpop_timeout: float) -> dict[str, Any]:
    """redis-py connection options that keep idle readers alive and dead ones short-lived.

    * ``socket_timeout`` = blocking window + a minute: longer than any reply we wait for
      (the 5 s BZPOPMIN) and than the stalls a Redis has, finite so a dead connection
      raises instead of hanging.
    * ``socket_connect_timeout``: a Redis that does not answer in 5 s is down; retry later.
    * TCP keepalive and ``health_check_interval``: detect dead idle connections early.
    * ``retry``: two quick retries on a connection error. channels_redis builds its pools
      without redis-py's client-level retry, so after a Redis restart the first command
      on every pooled (now dead) socket failed. A retried command is the same command
      (same members and scores), so retrying a dead socket adds nothing twice.
    """
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return {
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.1), 2),
        "socket_timeout": brpop_timeout + SOCKET_TIMEOUT_MARGIN,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "socket_keepalive_options": _keepalive_options(),
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }


def harden_hosts(hosts: list[dict[str, Any]], brpop_timeout: float) -> list[str]:
    """Fill safe connection options into channels_redis host dicts, in place.

    Explicit user values are kept, except a ``socket_timeout`` not longer than the blocking
    window, which is the idle-crash bug itself: that one is raised. Returns notes for the log.
    """
    notes = []
    defaults = connection_defaults(brpop_timeout)
    for host in hosts:
        if "sentinels" in host:
            continue  # sentinel pools take their own kwargs; leave them alone
        timeout = host.get("socket_timeout")
        if timeout is not None and timeout <= brpop_timeout:
            notes.append(
                f"socket_timeout={timeout} is not longer than the {brpop_timeout:g} s blocking "
                f"read and would crash idle readers; using {defaults['socket_timeout']:g}"
            )
            host["socket_timeout"] = defaults["socket_timeout"]
        for key, value in defaults.items():
            host.setdefault(key, value)
    return notes


def client_budget(host: Any) -> int:
    """Redis clients one process may hold on this host (``max_connections``, default 3)."""
    value = host.get("max_connections") if isinstance(host, dict) else None
    return max(1, int(value)) if value else DEFAULT_CLIENT_BUDGET


class BudgetPool(BlockingConnectionPool):  # type: ignore[misc]
    """A blocking pool that stays within a client budget and rides out refusals.

    * ``max_connections`` = budget minus the process's readers (the blocking reader, a
      pub/sub subscription: :meth:`reserve`\\ d, one kept for a reader in any case; at
      least 1); a command waits for a free connection rather than opening one more.
    * Open connections are reused before a closed one is reopened.
    * A connection Redis refuses (``max number of clients reached``) or cannot open: if
      this pool still has an open connection, the command waits for it; if not, it sleeps
      (0.1 s, 0.25 s, 0.5 s, then every second) and tries again, for up to ``patience`` s.
    * Connections beyond the first that sat idle for ``IDLE_TRIM_SECONDS`` are closed.
    """

    def __init__(self, *, budget: int, patience: float = DEFAULT_PATIENCE, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", POOL_WAIT_TIMEOUT)
        super().__init__(max_connections=max(1, budget - READER_SHARE), **kwargs)
        self.budget = max(1, budget)
        self.patience = patience
        self._reserved = 0
        self._refused_until = 0.0
        self._trim_handle: asyncio.TimerHandle | None = None

    def set_budget(self, budget: int) -> None:
        """A new budget (surplus open connections close once idle)."""
        self.budget = max(1, budget)
        self.reserve(0)

    def reserve(self, count: int = 1) -> None:
        """Leave *count* of the budget to connections outside this pool (readers);
        a negative *count* gives it back."""
        self._reserved += count
        self.max_connections = max(1, self.budget - max(READER_SHARE, self._reserved))

    def open_connections(self) -> int:
        """Connections of this pool with an open socket (idle or in use)."""
        every = [*self._available_connections, *self._in_use_connections]
        return sum(1 for connection in every if connection.is_connected)

    def can_get_connection(self) -> bool:
        # Under the pool's lock, right before it pops the last available connection:
        # put the open ones last, so an open connection is reused before a closed one.
        self._available_connections.sort(key=lambda connection: connection.is_connected)
        if self._available_connections and self._available_connections[-1].is_connected:
            return True
        if time.monotonic() < self._refused_until and self.open_connections() > 0:
            return False  # Redis refuses new clients: wait for one of ours to be released
        return bool(super().can_get_connection())

    async def get_connection(self, *args: Any, **options: Any) -> Any:
        """redis-py 8 calls this without arguments, 5.x with the command name: passed on."""
        started = time.monotonic()
        delays = iter(RETRY_BACKOFF)
        while True:
            try:
                connection = await super().get_connection(*args, **options)
            except Exception as exc:
                if time.monotonic() - started >= self.patience or not is_transient(exc):
                    raise
                delay = next(delays, RETRY_BACKOFF[-1])
                self._refused_until = time.monotonic() + delay
                open_connections = self.open_connections()
                if open_connections:  # carry on with ours: wait for one to be released
                    refused_at_limit(exc, open_connections)
                else:
                    OUTAGE.failed(exc)
                    await asyncio.sleep(delay)
                continue
            OUTAGE.recovered()
            return connection

    async def release(self, connection: Any) -> None:
        connection.cbp_idle_since = time.monotonic()
        await super().release(connection)
        self._schedule_trim()

    def _idle_open(self) -> list[Any]:
        return [c for c in self._available_connections if c.is_connected]

    def _schedule_trim(self, delay: float = IDLE_TRIM_SECONDS) -> None:
        if self._trim_handle is None and len(self._idle_open()) > KEEP_OPEN:
            loop = asyncio.get_running_loop()
            self._trim_handle = loop.call_later(delay, self._trim)

    def _trim(self) -> None:
        """Close idle connections beyond ``KEEP_OPEN`` that were not used for a while."""
        self._trim_handle = None
        now = time.monotonic()
        idle = sorted(self._idle_open(), key=lambda c: getattr(c, "cbp_idle_since", 0.0))
        surplus = idle[: max(0, len(idle) - KEEP_OPEN)]  # the least recently used
        for connection in surplus:
            due = getattr(connection, "cbp_idle_since", 0.0) + IDLE_TRIM_SECONDS
            if due <= now:
                self._available_connections.remove(connection)
                in_background(connection.disconnect(), "closing an idle Redis connection")
            else:
                self._schedule_trim(due - now)
                return

    async def disconnect(self, inuse_connections: bool = True) -> None:
        if self._trim_handle is not None:
            self._trim_handle.cancel()
            self._trim_handle = None
        await super().disconnect(inuse_connections)


def blocking_pool(host: dict[str, Any], *, size: int | None = None, patience: float = 0) -> Any:
    """A :class:`BudgetPool` for a channels_redis host dict (any of its forms).

    *size* overrides the host's budget (a reader's own pool holds one connection).
    """
    options = dict(host)
    budget = size or client_budget(options)
    options.pop("max_connections", None)
    wait = options.pop("pool_timeout", POOL_WAIT_TIMEOUT)
    extra = {"budget": budget, "timeout": wait, "patience": patience or DEFAULT_PATIENCE}
    if "address" in options:
        return BudgetPool.from_url(options.pop("address"), **extra, **options)
    return BudgetPool(**extra, **options)
