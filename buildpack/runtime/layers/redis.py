"""channels_redis's core layer with two defects fixed at the mechanism.

1. Duplicate delivery across readers (channels_redis#163, #299). The stock receive path
   pops a message with BZPOPMIN and then copies it into ``<channel>$inflight``, a backup
   set *shared by every reader of the channel*; each reader starts by moving that whole
   set back onto the channel. So reader B re-queues the message reader A is handling, and
   it is handled again (we measured 115-141 duplicates out of 400 with four workers).
   Here a normal-channel receive is one BZPOPMIN, atomic on the server: the member it
   returns belongs to exactly one reader. The only window where a popped message could be
   orphaned is a *cancelled* receive; the pop then runs to completion in a shielded task and
   the message is put back at its original score, for some reader to take. Net effect:
   never more than once (the channel-layer spec); a message is only lost if the process
   dies between the server-side pop and reading the reply, exactly the spec's at-most-once.
   Process-specific (``!``) channels keep the stock path: they have one reader by design.

2. Idle readers crashing with ``TimeoutError`` (channels_redis#422). redis-py 8 made the
   default ``socket_timeout`` 5 s, the same as the layer's 5 s blocking pop, so every idle
   read times out. ``socket_timeout=None`` would instead let a dead connection hang forever.
   :func:`connection_defaults` picks the timeouts deliberately (see there).

3. Bursts failing with ``MaxConnectionsError`` (also new in redis-py 8: the asyncio pool
   defaults to 100 connections and *raises* when they are all busy). 200 WebSockets closing
   at once each run ``group_discard``; with the stock pool half of them fail and leave stale
   group members. Here the pool is a ``BlockingConnectionPool``: a command waits up to
   20 s for a free connection instead of failing. Its size (``max_connections``, default 100)
   is a per-process ceiling, which matters on small Redis plans (Heroku's mini allows 20
   clients in total); the worker reserves room for its blocking readers.

Also: a receive that hits a Redis outage logs once, backs off and retries instead of
raising into the consumer, so an open WebSocket survives a Redis restart.

Messages and keys are unchanged, so this layer interoperates with stock readers/senders.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as StockPubSubChannelLayer

from buildpack import log, messages
from buildpack.runtime.aio import raise_if_cancelled

# Blocking pops wait up to ``brpop_timeout`` (5 s) on the server. A reply slower than that
# plus this margin means the connection or server is gone: raise, reconnect, retry.
SOCKET_TIMEOUT_MARGIN = 10.0
CONNECT_TIMEOUT = 5.0
# Ping a pooled connection before reuse when it sat idle this long (half-open sockets
# after a failover or a NAT timeout are found before a real command is lost on them).
HEALTH_CHECK_INTERVAL = 30
WAKE_PREFIX = b"\x00channels-buildpack:wake:"  # never a serialized message (msgpack)
DEFAULT_MAX_CONNECTIONS = 100
POOL_WAIT_TIMEOUT = 20.0
RETRY_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)
OUTAGE_LOG_EVERY = 30.0


def _keepalive_options() -> dict[int, int]:
    """Linux TCP keepalive: notice a silently dead peer in ~1 min instead of ~2 h."""
    options: dict[int, int] = {}
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            options[getattr(socket, name)] = value
    return options


def connection_defaults(brpop_timeout: float) -> dict[str, Any]:
    """redis-py connection options that keep idle readers alive and dead ones short-lived.

    * ``socket_timeout`` = blocking window + margin: longer than any reply we wait for
      (the 5 s BZPOPMIN), finite so a dead connection raises instead of hanging.
    * ``socket_connect_timeout``: a Redis that does not answer in 5 s is down; retry later.
    * TCP keepalive and ``health_check_interval``: detect dead idle connections early.
    * ``retry``: two quick retries on a connection error. channels_redis builds its pools
      without redis-py's client-level retry, so after a Redis restart the first command
      on every pooled (now dead) socket failed. The layer's commands are idempotent
      (ZADD/ZREM/ZREMRANGEBYSCORE/EXPIRE/BZPOPMIN), so retrying a dead socket is safe.
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


class _OutageLog:
    """One log line when Redis goes away, a reminder every 30 s, one when it is back."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.last_logged = 0.0

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
        if now - self.last_logged >= OUTAGE_LOG_EVERY or self.last_logged == 0.0:
            self.last_logged = now
            error = f"{type(exc).__name__}: {exc}"
            log.runtime_warning("redis", messages.REDIS_READ_FAILED.format(error=error))

    def recovered(self) -> None:
        if self.since is not None:
            log.runtime(
                "redis",
                f"channel layer reachable again after {time.monotonic() - self.since:.1f} s",
            )
        self.since = None
        self.last_logged = 0.0


def _transient_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


_receive_cycles: weakref.WeakKeyDictionary[Any, Iterator[int]] = weakref.WeakKeyDictionary()


def _next_index(layer: Any) -> int:
    cycle = _receive_cycles.get(layer)
    if cycle is None:
        cycle = _receive_cycles[layer] = itertools.cycle(range(layer.ring_size))
    return next(cycle)


async def _pop_cancel_safe(
    connection: Any, key: str, timeout: float, *, wake_ttl: int | None = None
) -> bytes | None:
    """BZPOPMIN once; if our caller is cancelled mid-pop, put a popped member back.

    The pop itself keeps running (shielded) so a message it takes is never dropped. With
    *wake_ttl*, a wake token is pushed so that pop returns at once and its pool
    connection is free again: a burst of closing consumers would otherwise leave one
    blocked read per consumer holding a connection for up to the blocking window.
    """
    pop = asyncio.ensure_future(connection.bzpopmin(key, timeout=timeout))
    try:
        result = await asyncio.shield(pop)
    except asyncio.CancelledError:
        pop.add_done_callback(lambda done: _requeue(connection, key, done))
        if wake_ttl is not None and not pop.done():
            _in_background(_wake(connection, key, wake_ttl))
        raise
    if result is None:
        return None
    _, member, _score = result
    return bytes(member)


_background: set[asyncio.Future[Any]] = set()


def _in_background(awaitable: Any) -> None:
    task = asyncio.ensure_future(awaitable)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _wake(connection: Any, key: str, ttl: int) -> None:
    token = WAKE_PREFIX + uuid.uuid4().hex.encode()
    async with connection.pipeline(transaction=True) as pipe:
        pipe.zadd(key, {token: 0})  # lowest score: the blocked pop takes it first
        pipe.expire(key, ttl)  # the layer's message expiry, as a send would set
        await pipe.execute()


def _requeue(connection: Any, key: str, pop: asyncio.Future[Any]) -> None:
    if pop.cancelled() or pop.exception() is not None or pop.result() is None:
        return
    _, member, score = pop.result()
    if not bytes(member).startswith(WAKE_PREFIX):
        _in_background(connection.zadd(key, {member: float(score)}))


async def receive_exactly_once(layer: Any, channel: str) -> dict[str, Any]:
    """Receive one message from a *normal* channel of any channels_redis core layer.

    Usable on a stock ``channels_redis.core.RedisChannelLayer`` instance too, which is how
    our worker stays correct when the settings layer is switched off.
    """
    assert "!" not in channel, "process-specific channels use the layer's own receive"
    assert layer.require_valid_channel_name(channel, receive=True)
    key = layer.prefix + channel
    while True:
        raise_if_cancelled()
        connection = layer.connection(_next_index(layer))
        member = await _pop_cancel_safe(connection, key, layer.brpop_timeout)
        if member is not None:
            message: dict[str, Any] = layer.deserialize(member)
            message.pop("__asgi_channel__", None)
            return message


def blocking_pool(host: dict[str, Any]) -> Any:
    """A ``BlockingConnectionPool`` for a channels_redis host dict (any of its forms)."""
    from redis.asyncio import BlockingConnectionPool

    options = dict(host)
    size = options.pop("max_connections", DEFAULT_MAX_CONNECTIONS)
    wait = options.pop("pool_timeout", POOL_WAIT_TIMEOUT)
    if "address" in options:
        address = options.pop("address")
        return BlockingConnectionPool.from_url(
            address, max_connections=size, timeout=wait, **options
        )
    return BlockingConnectionPool(max_connections=size, timeout=wait, **options)


def reserve_connections(layer: Any, blocking_readers: int) -> None:
    """Make room in each host's pool for *blocking_readers* BZPOPMINs plus headroom.

    Call before the layer's first command in the loop (pools are created lazily).
    """
    wanted = blocking_readers + 20
    for host in getattr(layer, "hosts", None) or []:
        if isinstance(host, dict) and "sentinels" not in host:
            host["max_connections"] = max(
                host.get("max_connections", DEFAULT_MAX_CONNECTIONS), wanted
            )


class RedisChannelLayer(StockRedisChannelLayer):  # type: ignore[misc]
    """Drop-in ``channels_redis.core.RedisChannelLayer``: same config, keys and messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hardening_notes = harden_hosts(self.hosts, self.brpop_timeout)
        self._outage = _OutageLog()

    async def _brpop_with_clean(self, index: int, channel: str, timeout: float) -> bytes | None:
        """Process-specific channels: one shielded BZPOPMIN, no backup set.

        Stock copies each popped message into a backup set (cleaned up with one more round
        trip per message) to survive a cancelled read. Cancellation here is delivered at once
        and a message popped meanwhile is put back, so no copy is needed. On Python 3.11,
        redis-py's ``wait_for`` can swallow a cancel; the loop that calls us would then block
        again, so a pending cancellation is re-raised before each pop.
        """
        while True:
            raise_if_cancelled()
            member = await _pop_cancel_safe(
                self.connection(index), channel, timeout, wake_ttl=int(self.expiry)
            )
            if member is None or not member.startswith(WAKE_PREFIX):
                return member

    async def _clean_receive_backup(self, index: int, channel: str) -> None:
        """Nothing to clean: pops are never copied to a backup set."""

    def create_pool(self, index: int) -> Any:
        """Blocking pools (sentinel hosts keep channels_redis's own pool)."""
        host = self.hosts[index]
        if "master_name" in host:
            return super().create_pool(index)
        return blocking_pool(host)

    async def receive(self, channel: str) -> dict[str, Any]:
        """Like the stock receive, but exactly-once for normal channels and outage-tolerant."""
        backoff = iter(RETRY_BACKOFF)
        errors = _transient_errors()
        while True:
            try:
                if "!" in channel:
                    message: dict[str, Any] = await super().receive(channel)
                else:
                    message = await receive_exactly_once(self, channel)
            except errors as exc:
                raise_if_cancelled()  # redis-py may surface our cancellation as an error
                self._outage.failed(exc)
                await asyncio.sleep(next(backoff, RETRY_BACKOFF[-1]))
                continue
            self._outage.recovered()
            return message


def layer_summary(layer: Any) -> str:
    """Short description of a layer instance for start-up lines (no secrets)."""
    from buildpack.redact import redact_url

    hosts = getattr(layer, "hosts", None) or []
    addresses = []
    for host in hosts:
        if "address" in host:
            addresses.append(redact_url(str(host["address"])))
        elif "host" in host:
            addresses.append(f"{host['host']}:{host.get('port', 6379)}")
    name = f"{type(layer).__module__}.{type(layer).__qualname__}"
    return f"{name} ({', '.join(addresses)})" if addresses else name


class RedisPubSubChannelLayer(StockPubSubChannelLayer):  # type: ignore[misc]
    """channels_redis's pub/sub layer, with background channels that each reader gets once.

    Pub/sub is the fast path for groups and for each consumer's own channel. For a normal
    channel ("jobs") it is wrong: every worker subscribed to it receives every message (and
    none receives it if no worker is listening at that moment). So normal channels go
    through the exactly-once sorted-set queue of :class:`RedisChannelLayer` on the same
    hosts; process-specific names carry a ``!`` so the two kinds are told apart.
    """

    QUEUE_OPTIONS = ("capacity", "expiry", "group_expiry", "channel_capacity")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        queue_options = {k: kwargs.pop(k) for k in self.QUEUE_OPTIONS if k in kwargs}
        super().__init__(*args, **kwargs)
        hosts = kwargs.get("hosts", args[0] if args else None)
        prefix = kwargs.get("prefix", "asgi")
        self._queue = RedisChannelLayer(hosts=hosts, prefix=prefix, **queue_options)

    @property
    def hosts(self) -> list[dict[str, Any]]:
        """The queue's host dicts (connection options, pool reservations)."""
        return self._queue.hosts  # type: ignore[no-any-return]

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A process-specific channel: pub/sub, named with a ``!``."""
        name: str = await self._get_layer().new_channel(prefix.rstrip(".!") + "!")
        return name

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Publish to a process-specific channel; queue on a normal (background) one."""
        if "!" in channel:
            await self._get_layer().send(channel, message)
        else:
            await self._queue.send(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        """Pub/sub for process-specific channels, exactly-once queue for normal ones."""
        if "!" in channel:
            message: dict[str, Any] = await self._get_layer().receive(channel)
            return message
        return await self._queue.receive(channel)

    async def flush(self) -> None:
        """Flush both halves."""
        await self._get_layer().flush()
        await self._queue.flush()
