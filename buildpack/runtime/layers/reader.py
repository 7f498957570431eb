"""One blocking reader per process: a single ``BZPOPMIN`` waits on every key it wants.

channels_redis opens one blocking read per ``receive()`` call in flight, so a worker with
3 channels at concurrency 8 held 24 Redis clients just waiting. Here every ``receive()``
of a layer instance (in one event loop) registers a *waiter*; one :class:`Reader` per Redis
host waits with one ``BZPOPMIN`` on the keys that have waiters (a normal channel's key
only while a consumer slot is free; the process-specific key while a consumer of this
process waits) and hands each popped message to a waiter.

Exactly once, as before: a message belongs to whoever popped it (``BZPOPMIN``/``ZPOPMIN``
are atomic), and a popped message nobody waits for any more (its receive was cancelled)
goes back to its key at its original score. A free slot first tries ``ZPOPMIN`` on the
command pool (one round trip while a backlog lasts) and only then waits on the reader.

When a key must be added while the reader is blocked, a *wake token* on the reader's own
key (``<prefix>:cbp-wake:<uuid>``, never read by anyone else) makes the ``BZPOPMIN``
return at once. Keys and messages are channels_redis's own, so stock senders and readers
interoperate.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from buildpack import log, messages
from buildpack.runtime.aio import raise_if_cancelled
from buildpack.runtime.layers.connections import blocking_pool, connection_defaults
from buildpack.runtime.layers.resilience import (
    OUTAGE,
    RETRY_BACKOFF,
    in_background,
    is_transient,
    outage_for,
    retrying,
    stall_watch,
)

WAKE_PREFIX = b"\x00channels-buildpack:wake:"  # never a serialized message (msgpack)
WAKE_TTL = 60
CLOSE_WAIT = 2.0
Popped = tuple[bytes, float, int]  # member, score, host index


async def shielded(call: Awaitable[Any], orphan: Callable[[Any], None]) -> Any:
    """Await *call* (a pop) so that cancelling us does not cancel it: if we are cancelled,
    ``orphan(result)`` receives what it took once it completes, so nothing popped is lost."""
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:

        def done(finished: asyncio.Future[Any]) -> None:
            if not finished.cancelled() and finished.exception() is None and finished.result():
                orphan(finished.result())

        task.add_done_callback(done)
        raise


def decoded(result: Any) -> tuple[str, bytes, float]:
    """``(key, member, score)`` of a BZPOPMIN reply."""
    key, member, score = result
    name = key.decode("utf8") if isinstance(key, bytes) else str(key)
    return name, bytes(member), float(score)


def _reader_pool(layer: Any, index: int) -> Any:
    """A one-connection pool for the reader (sentinel hosts keep channels_redis's pool)."""
    host = layer.hosts[index]
    if "master_name" in host:
        return layer.create_pool(index)
    defaults = connection_defaults(layer.brpop_timeout)
    options = {**defaults, **host}
    # Never shorter than ours: a reader that gives up on a stalled server loses what the
    # server pops for it once it carries on (None: wait for ever, also fine).
    if options["socket_timeout"] is not None:
        options["socket_timeout"] = max(options["socket_timeout"], defaults["socket_timeout"])
    return blocking_pool(options, size=1, patience=float(layer.expiry))


def _all(popped: list[Any], index: int) -> list[Popped]:
    return [(bytes(member), float(score), index) for member, score in popped]


def local_buffers(layer: Any) -> dict[str, deque[dict[str, Any]]]:
    """Messages for this process's channels that came before their ``receive()``: kept per
    layer instance, not per event loop (as stock's receive buffer is), so a message popped
    in one ``async_to_sync`` loop is still there for the next loop's receive."""
    buffers: dict[str, deque[dict[str, Any]]] | None = getattr(layer, "_cbp_buffers", None)
    if buffers is None:
        buffers = layer._cbp_buffers = {}
    return buffers


class Reader:
    """The blocking reader of one :class:`Receiver` on one Redis host."""

    def __init__(self, receiver: Receiver, index: int) -> None:
        from redis.asyncio import Redis

        self.receiver = receiver
        self.index = index
        layer = receiver.layer
        self.client = Redis(connection_pool=_reader_pool(layer, index))
        self.wake_key = f"{layer.prefix}:cbp-wake:{uuid.uuid4().hex}"
        self.timeout = layer.brpop_timeout
        self.blocked_on: frozenset[str] | None = None
        self.wake_pending = False
        self.demand = asyncio.Event()
        self.closing = False
        self.task: asyncio.Future[Any] | None = None
        self.commands_pool = receiver.commands(index).connection_pool
        if hasattr(self.commands_pool, "reserve"):
            self.commands_pool.reserve(1)  # this connection counts against the budget

    def wanted(self, key: str) -> None:
        """A waiter for *key* appeared: make sure the next pop includes it."""
        if self.closing:
            return
        if self.task is None or self.task.done():
            self.task = in_background(self._run(), "the Redis reader")
        if self.blocked_on is None:
            self.demand.set()
        elif key not in self.blocked_on and not self.wake_pending:
            self.wake_pending = True
            in_background(self._wake(), "waking the Redis reader")

    async def _wake(self) -> None:
        token = WAKE_PREFIX + uuid.uuid4().hex.encode()
        async with self.receiver.commands(self.index).pipeline(transaction=True) as pipe:
            pipe.zadd(self.wake_key, {token: 0})
            pipe.expire(self.wake_key, WAKE_TTL)
            await pipe.execute()

    async def _run(self) -> None:
        delays = iter(RETRY_BACKOFF)
        while not self.closing:
            try:
                await self._read_once()
            except Exception as exc:  # never let the process's only reader die
                raise_if_cancelled()
                if is_transient(exc):
                    outage_for(exc).failed(exc)
                    await asyncio.sleep(next(delays, RETRY_BACKOFF[-1]))
                else:
                    error = f"{type(exc).__name__}: {exc}"
                    log.runtime_error("redis", messages.READER_FAILED.format(error=error))
                    await asyncio.sleep(RETRY_BACKOFF[-1])
                continue
            delays = iter(RETRY_BACKOFF)

    async def _read_once(self) -> None:
        keys = self.receiver.wanted_keys(self.index)
        if not keys:
            self.demand.clear()
            await self.demand.wait()
            return
        self.blocked_on = frozenset(keys)
        self.wake_pending = False
        try:
            with stall_watch(allowed=self.timeout):
                reply = await shielded(
                    self.client.bzpopmin([self.wake_key, *keys], timeout=self.timeout),
                    lambda result: self._orphan(*decoded(result)),
                )
        finally:
            self.blocked_on = None
        OUTAGE.recovered()
        if reply is None:
            return
        key, member, score = decoded(reply)
        if key == self.wake_key:
            return
        await self._hand_over(key, [(member, score)])
        more = self.receiver.waiting_on(key)
        if more:  # more free slots on this channel: take up to that many in one round trip
            batch = await shielded(
                self.client.zpopmin(key, more), lambda result: self._orphans(key, result)
            )
            await self._hand_over(key, [(bytes(m), float(s)) for m, s in batch])

    async def _hand_over(self, key: str, popped: list[tuple[bytes, float]]) -> None:
        for member, score in popped:
            if not self.receiver.take(key, (member, score, self.index)):
                await self.requeue(key, member, score)

    def _orphans(self, key: str, popped: list[Any]) -> None:
        for member, score in popped:
            self._orphan(key, bytes(member), float(score))

    def _orphan(self, key: str, member: bytes, score: float) -> None:
        if key != self.wake_key:
            in_background(self.requeue(key, member, score), "putting a message back")

    async def requeue(self, key: str, member: bytes, score: float) -> None:
        """Put a popped, undelivered message back at its original score."""
        expiry = int(self.receiver.layer.expiry)

        async def put_back() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {member: score})
                pipe.expire(key, expiry)
                await pipe.execute()

        await retrying(put_back, patience=float(expiry))

    async def close(self) -> None:
        """Stop after the pop in flight (woken at once); put back what it took. Not
        reading (waiting for demand, backing off while Redis is away): stop right away."""
        self.closing = True
        self.demand.set()
        task = self.task
        if task is not None and not task.done():
            if self.blocked_on is None:
                task.cancel()
            else:
                try:
                    await asyncio.wait_for(self._wake(), CLOSE_WAIT)
                except Exception:
                    task.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.timeout + CLOSE_WAIT)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
                raise_if_cancelled()
                task.cancel()
        if hasattr(self.commands_pool, "reserve"):
            self.commands_pool.reserve(-1)
        with contextlib.suppress(Exception):
            await self.client.aclose(close_connection_pool=True)


class Receiver:
    """``receive()`` for one channels_redis core layer instance in one event loop."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.loop = asyncio.get_running_loop()
        self.readers: dict[int, Reader] = {}
        # Waiters in arrival order, and the set of those not yet settled (delivered,
        # withdrawn): the set is the demand the reader sees, and settling is idempotent.
        self.queued: dict[str, deque[asyncio.Future[Popped]]] = {}
        self.pending: dict[str, set[asyncio.Future[Popped]]] = {}
        self.backlog: dict[str, bool] = {}
        self.popping: set[str] = set()
        self.local_waiters: dict[str, deque[asyncio.Future[dict[str, Any]]]] = {}
        self.local_pending: set[asyncio.Future[dict[str, Any]]] = set()
        self.local_keys: dict[str, int] = {}
        self.buffers = local_buffers(layer)
        self._rotation = 0

    def commands(self, index: int) -> Any:
        """The layer's shared command client for host *index*."""
        return self.layer.connection(index)

    def reader(self, index: int) -> Reader:
        reader = self.readers.get(index)
        if reader is None:
            reader = self.readers[index] = Reader(self, index)
        return reader

    # -- what the readers ask -------------------------------------------------------------

    def wanted_keys(self, index: int) -> list[str]:
        """Keys with waiters: this host's process key first, then normal channels in turn."""
        local = [k for k, i in self.local_keys.items() if i == index and self.local_pending]
        normal = [key for key, futures in self.pending.items() if futures]
        if len(normal) > 1:
            self._rotation = (self._rotation + 1) % len(normal)
            normal = normal[self._rotation :] + normal[: self._rotation]
        return local + normal

    def waiting_on(self, key: str) -> int:
        """Free slots still waiting on a normal channel's key."""
        return len(self.pending.get(key, ()))

    def take(self, key: str, popped: Popped) -> bool:
        """Deliver a popped message; False if nobody waits for it (put it back)."""
        if key in self.local_keys:
            self._dispatch_local(popped[0])
            return True
        waiters = self.queued.get(key)
        pending = self.pending.get(key, set())
        while waiters:
            future = waiters.popleft()
            pending.discard(future)
            if not future.done():
                future.set_result(popped)
                self.backlog[key] = True  # more may be queued behind it
                return True
        return False

    # -- normal channels: exactly once ------------------------------------------------------

    async def receive_queued(self, channel: str) -> dict[str, Any]:
        key = self.layer.prefix + channel
        if self.backlog.get(key, True) and key not in self.popping:
            popped = await self._quick_pops(key)
            if popped is not None:
                return self._decode(popped[0])
            self.backlog[key] = False
        future: asyncio.Future[Popped] = self.loop.create_future()
        self.queued.setdefault(key, deque()).append(future)
        self.pending.setdefault(key, set()).add(future)
        if key not in self.popping:  # else the quick pop in flight serves it, or calls
            self._want(key)  # the reader when it comes back short
        try:
            member, _, _ = await future
        except asyncio.CancelledError:
            self._withdraw(key, future)
            raise
        return self._decode(member)

    def _withdraw(self, key: str, future: asyncio.Future[Popped]) -> None:
        if future.done() and not future.cancelled():  # delivered just as we were cancelled
            self.give_back(key, future.result())
            return
        self.pending.get(key, set()).discard(future)
        with contextlib.suppress(ValueError):  # taken (and skipped) by the reader already
            self.queued[key].remove(future)

    def give_back(self, key: str, popped: Popped) -> None:
        """A message popped for a receive that was cancelled: the next waiter, or Redis."""
        if not self.take(key, popped):
            member, score, index = popped
            in_background(self.reader(index).requeue(key, member, score), "putting a message back")

    def _want(self, key: str) -> None:
        for index in range(self.layer.ring_size):
            self.reader(index).wanted(key)

    async def _quick_pops(self, key: str) -> Popped | None:
        """One ZPOPMIN on the command pool (one per channel at a time) for this receive and
        the free slots waiting on the channel: the next message if one is queued now; the
        others go to those waiters."""
        self.popping.add(key)
        try:
            popped = await self._quick_pop(key, 1 + len(self.pending.get(key, ())))
        except BaseException:  # cancelled: what it pops goes to the waiters or back
            self._popped(key, [])
            raise
        self._popped(key, popped[1:])
        return popped[0] if popped else None

    def _popped(self, key: str, extras: list[Popped]) -> None:
        self.popping.discard(key)
        for extra in extras:
            self.give_back(key, extra)
        if self.pending.get(key):  # slots the quick pop could not serve: the reader will
            self._want(key)

    async def _quick_pop(self, key: str, count: int) -> list[Popped]:
        for index in range(self.layer.ring_size):

            def orphan(popped: list[Any], index: int = index) -> None:
                for item in _all(popped, index):
                    self.give_back(key, item)

            try:
                result = await shielded(self.commands(index).zpopmin(key, count), orphan)
            except Exception as exc:
                raise_if_cancelled()
                if not is_transient(exc):
                    raise
                return []  # Redis is unhappy: wait on the reader, which retries
            if result:
                return _all(result, index)
        return []

    def _decode(self, member: bytes) -> dict[str, Any]:
        message: dict[str, Any] = self.layer.deserialize(member)
        message.pop("__asgi_channel__", None)
        return message

    # -- process-specific channels ----------------------------------------------------------

    async def receive_local(self, channel: str) -> dict[str, Any]:
        buffer = self.buffers.get(channel)
        if buffer:
            message = buffer.popleft()
            if not buffer:
                del self.buffers[channel]
            return message
        non_local = self.layer.non_local_name(channel)
        key = self.layer.prefix + non_local
        index = self.layer.consistent_hash(non_local)
        self.local_keys[key] = index
        future: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.local_waiters.setdefault(channel, deque()).append(future)
        self.local_pending.add(future)
        self.reader(index).wanted(key)
        try:
            return await future
        except asyncio.CancelledError:
            self.local_pending.discard(future)
            waiters = self.local_waiters.get(channel, deque())
            with contextlib.suppress(ValueError):
                waiters.remove(future)
            if not waiters:  # the consumer is gone (stock drops its buffer too)
                self.local_waiters.pop(channel, None)
                self.buffers.pop(channel, None)
            raise

    def _dispatch_local(self, member: bytes) -> None:
        message: dict[str, Any] = self.layer.deserialize(member)
        target = message.pop("__asgi_channel__", None)
        channels = target if isinstance(target, list) else [target] if target else []
        for position, channel in enumerate(channels):
            copy = message if position == len(channels) - 1 else dict(message)
            waiters = self.local_waiters.get(channel)
            while waiters:
                future = waiters.popleft()
                self.local_pending.discard(future)
                if not future.done():
                    future.set_result(copy)
                    break
            else:
                buffer = self.buffers.setdefault(channel, deque(maxlen=self.layer.capacity))
                buffer.append(copy)

    async def close(self) -> None:
        """Stop the readers (the pops in flight return at once)."""
        readers, self.readers = list(self.readers.values()), {}
        await asyncio.gather(*(reader.close() for reader in readers), return_exceptions=True)


# Receivers for layer instances that are not ours (a stock channels_redis core layer).
_receivers: weakref.WeakKeyDictionary[Any, dict[Any, Receiver]] = weakref.WeakKeyDictionary()


def receiver_of(layer: Any) -> Receiver:
    """The :class:`Receiver` of *layer* in the running loop (ours keep it per loop)."""
    own = getattr(layer, "receiver", None)
    if callable(own):
        return own()  # type: ignore[no-any-return]
    loop = asyncio.get_running_loop()
    per_loop = _receivers.setdefault(layer, {})
    receiver = per_loop.get(loop)
    if receiver is None:
        receiver = per_loop[loop] = Receiver(layer)
    return receiver


async def stop_reading(layer: Any) -> None:
    """Stop *layer*'s readers in this loop, putting back anything popped for nobody."""
    own = getattr(layer, "stop_reading", None)
    if callable(own):
        await own()
        return
    per_loop = _receivers.get(layer, {})
    receiver = per_loop.pop(asyncio.get_running_loop(), None)
    if receiver is not None:
        await receiver.close()
