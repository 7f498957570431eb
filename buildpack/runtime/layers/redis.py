"""channels_redis's core layer, fixed at the mechanism, within a small client budget.

1. Duplicate delivery across readers (channels_redis#163, #299). The stock receive path
   pops a message with BZPOPMIN and then copies it into ``<channel>$inflight``, a backup
   set *shared by every reader of the channel*; each reader starts by moving that whole
   set back onto the channel. So reader B re-queues the message reader A is handling, and
   it is handled again (we measured 115-141 duplicates out of 400 with four workers).
   Here a message is taken by one atomic BZPOPMIN/ZPOPMIN: it belongs to exactly one
   reader, and one popped for a receive that was cancelled is put back at its original
   score. Never more than once (the channel-layer spec); lost only if the process dies
   between the server-side pop and reading the reply, exactly the spec's at-most-once.

2. Idle readers crashing with ``TimeoutError`` (channels_redis#422): see
   :func:`~buildpack.runtime.layers.connections.connection_defaults`.

3. Redis clients. Stock holds one connection per receive in flight (a worker with 3
   channels at concurrency 8: 24) and a pool of up to 100 for commands, which a burst of
   WebSockets fills. Heroku Key-Value Store mini allows 20 clients for the whole app. Here
   each process holds one blocking reader per Redis host, whatever the number of channels
   and consumers (:mod:`.reader`), and a command pool within a per-process budget
   (``max_connections``, default 3 including the reader; :mod:`.connections`).

4. Refusals, outages, stalls and a full Redis are transient: a send, group operation or
   receive that meets ``max number of clients reached``, a dropped or timed-out connection,
   a restarting Redis or ``OOM command not allowed`` backs off and retries for up to the
   message expiry instead of raising into the consumer (which would close its WebSocket
   with 1011). A retry never writes twice: a send and each shard of a group send is one Lua
   script, serialized once, that first claims a *write id* (``SET <prefix>:cbp:w:<id> NX EX
   <expiry>``); a retry after a reply lost with its connection finds the id taken and adds
   nothing, even if the first copy was received in between. (Stock ``group_send``
   serializes again on every call, so retrying it would deliver twice.) Ids cost about 100
   bytes of Redis memory per message for the expiry (60 s).

5. A Redis that comes back empty (a mini plan's reboot) is repopulated with this process's
   group memberships within seconds: :mod:`.recovery`.

Messages and keys are unchanged, so this layer interoperates with stock readers/senders.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer as StockRedisChannelLayer
from channels_redis.core import RedisLoopLayer
from channels_redis.pubsub import RedisPubSubChannelLayer as StockPubSubChannelLayer
from channels_redis.utils import _wrap_close

from buildpack.runtime.layers import host_address
from buildpack.runtime.layers.connections import (
    CONNECT_TIMEOUT,
    DEFAULT_CLIENT_BUDGET,
    SOCKET_TIMEOUT_MARGIN,
    blocking_pool,
    connection_defaults,
    harden_hosts,
)
from buildpack.runtime.layers.pubsub import BudgetLoopLayer
from buildpack.runtime.layers.reader import WAKE_PREFIX, Receiver, receiver_of, stop_reading
from buildpack.runtime.layers.recovery import GROUP_ADD_SCRIPT, Memberships
from buildpack.runtime.layers.resilience import retrying

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_CLIENT_BUDGET",
    "SOCKET_TIMEOUT_MARGIN",
    "WAKE_PREFIX",
    "RedisChannelLayer",
    "RedisPubSubChannelLayer",
    "blocking_pool",
    "connection_defaults",
    "harden_hosts",
    "layer_summary",
    "receive_exactly_once",
    "stop_reading",
]
T = TypeVar("T")
logger = logging.getLogger(__name__)
WRITE_ID_INFIX = ":cbp:w:"

# Claim the write id (taken: this is a retry of a write that was applied), drop expired
# messages, refuse when full, add, refresh the key's expiry: one round trip (stock sends
# four commands one by one). KEYS: channel key, write id; ARGV: member, score, cutoff,
# capacity, expiry.
SEND_SCRIPT = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[5]) then
    return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[3])
if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') >= tonumber(ARGV[4]) then
    redis.call('DEL', KEYS[2])
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# A group message to the channel keys of one shard (stock's script, plus the write id and
# the expired-message trim stock does in a separate pipeline). KEYS: channel keys..., write
# id; ARGV: members..., capacities..., score, cutoff, expiry. Returns how many were full.
GROUP_SEND_SCRIPT = """
local count = #KEYS - 1
local expiry = ARGV[#ARGV]
if not redis.call('SET', KEYS[#KEYS], '1', 'NX', 'EX', expiry) then
    return 0
end
local over_capacity = 0
for i = 1, count do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[#ARGV - 1])
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + count]) then
        redis.call('ZADD', KEYS[i], ARGV[#ARGV - 2], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


async def receive_exactly_once(layer: Any, channel: str) -> dict[str, Any]:
    """Receive one message from a *normal* channel of any channels_redis core layer.

    Usable on a stock ``channels_redis.core.RedisChannelLayer`` instance too, which is how
    our worker stays correct (and within one reader) when the settings layer is off.
    """
    assert "!" not in channel, "process-specific channels use the layer's own receive"
    assert layer.require_valid_channel_name(channel, receive=True)
    return await receiver_of(layer).receive_queued(channel)


class _LoopLayer(RedisLoopLayer):  # type: ignore[misc]
    """channels_redis's per-event-loop connections, plus that loop's :class:`Receiver`."""

    def __init__(self, channel_layer: Any) -> None:
        super().__init__(channel_layer)
        self.loop = asyncio.get_running_loop()
        self.receiver = Receiver(channel_layer)

    async def flush(self) -> None:
        if self.loop is asyncio.get_running_loop():
            await self.receiver.close()
            await self.channel_layer.memberships.stop()
        await super().flush()


class RedisChannelLayer(StockRedisChannelLayer):  # type: ignore[misc]
    """Drop-in ``channels_redis.core.RedisChannelLayer``: same config, keys and messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hardening_notes = harden_hosts(self.hosts, self.brpop_timeout)
        self.memberships = Memberships(self)

    # -- connections ------------------------------------------------------------------------

    def _loop_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            _wrap_close(self, loop)
            layer = self._layers[loop] = _LoopLayer(self)
        return layer  # type: ignore[no-any-return]

    def connection(self, index: int) -> Any:
        """The shared command client of host *index* in this event loop."""
        if not 0 <= index < self.ring_size:
            raise ValueError(f"There are only {self.ring_size} hosts - you asked for {index}!")
        return self._loop_layer().get_connection(index)

    def create_pool(self, index: int) -> Any:
        """Budgeted command pools (sentinel hosts keep channels_redis's own pool)."""
        host = self.hosts[index]
        if "master_name" in host:
            return super().create_pool(index)
        return blocking_pool(host, patience=float(self.expiry))

    def receiver(self) -> Receiver:
        """This event loop's receiver (one blocking reader per host)."""
        return self._loop_layer().receiver

    async def stop_reading(self) -> None:
        """Stop this loop's readers; a message popped for nobody goes back to Redis."""
        layer = self._layers.get(asyncio.get_running_loop())
        if layer is not None:
            await layer.receiver.close()

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        return await retrying(operation, patience=float(self.expiry))

    def _write_id(self) -> str:
        """A fresh write id key (see the module docstring, 4)."""
        return f"{self.prefix}{WRITE_ID_INFIX}{uuid.uuid4().hex[:24]}"

    # -- channel layer API ------------------------------------------------------------------

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Stock send in one round trip, retried on refusals, outages and a full Redis; a
        retry never adds the message twice."""
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        assert "__asgi_channel__" not in message
        if "!" in channel:
            message = {**message, "__asgi_channel__": channel}
            non_local = self.non_local_name(channel)
            index = self.consistent_hash(non_local)  # where the owning process reads
        else:
            non_local = channel
            index = next(self._send_index_generator)
        key = self.prefix + non_local
        member = self.serialize(message)
        score = time.time()
        capacity = self.get_capacity(channel)
        write_id = self._write_id()

        async def attempt() -> Any:
            cutoff = int(time.time()) - int(self.expiry)
            return await self.connection(index).eval(
                SEND_SCRIPT, 2, key, write_id, member, score, cutoff, capacity, int(self.expiry)
            )

        if not await self._retrying(attempt):
            raise ChannelFull()

    async def receive(self, channel: str) -> dict[str, Any]:
        """Exactly once for normal channels; one reader per process; outage-tolerant."""
        assert self.require_valid_channel_name(channel)
        if "!" not in channel:
            return await self.receiver().receive_queued(channel)
        assert self.non_local_name(channel).endswith(self.client_prefix + "!"), (
            "Wrong client prefix"
        )
        return await self.receiver().receive_local(channel)

    async def group_add(self, group: str, channel: str) -> None:
        """Stock group_add in one round trip, retried; remembered so that a Redis that
        loses its data gets the membership back (:mod:`.recovery`)."""
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        key = self._group_key(group)
        index = self.consistent_hash(group)
        marker = self.memberships.marker
        self.memberships.added(group, channel)
        try:
            await self._retrying(
                lambda: self.connection(index).eval(
                    GROUP_ADD_SCRIPT, 2, key, marker, channel, time.time(), int(self.group_expiry)
                )
            )
        except BaseException:
            self.memberships.discarded(group, channel)
            raise
        self.memberships.guard()

    async def group_discard(self, group: str, channel: str) -> None:
        """Stock group_discard, retried; forgotten first, so no restore brings it back."""
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        self.memberships.discarded(group, channel)
        key = self._group_key(group)
        index = self.consistent_hash(group)
        await self._retrying(lambda: self.connection(index).zrem(key, channel))

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Stock group_send in two round trips (members, then one script per shard),
        serialized once and retried without ever delivering twice."""
        assert self.require_valid_group_name(group), "Group name not valid"
        names = await self._retrying(lambda: self._group_members(group))
        if not names:
            return
        by_index, messages_by_key, capacities = self._map_channel_keys_to_connection(names, message)
        for index, keys in by_index.items():
            full = await self._group_send_shard(index, keys, messages_by_key, capacities)
            if full:
                logger.info("%s of %s channels over capacity in group %s", full, len(names), group)

    async def _group_members(self, group: str) -> list[str]:
        """The group's members not past ``group_expiry`` (older ones are dropped)."""
        key = self._group_key(group)
        cutoff = int(time.time()) - int(self.group_expiry)
        connection = self.connection(self.consistent_hash(group))
        async with connection.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, min=0, max=cutoff)
            pipe.zrangebyscore(key, cutoff, "+inf")
            _, members = await pipe.execute(raise_on_error=False)
        if isinstance(members, Exception):
            raise members
        return [name.decode("utf8") for name in members]

    async def _group_send_shard(
        self,
        index: int,
        keys: list[str],
        messages_by_key: dict[str, bytes],
        capacities: dict[str, int],
    ) -> int:
        """One shard's part of a group send: one idempotent script, retried."""
        members = [messages_by_key[key] for key in keys]
        limits = [capacities[key] for key in keys]
        write_id = self._write_id()
        score = time.time()

        async def attempt() -> Any:
            cutoff = int(time.time()) - int(self.expiry)
            return await self.connection(index).eval(
                GROUP_SEND_SCRIPT,
                len(keys) + 1,
                *keys,
                write_id,
                *members,
                *limits,
                score,
                cutoff,
                int(self.expiry),
            )

        return int(await self._retrying(attempt))

    async def flush(self) -> None:
        """Stock flush (delete the layer's keys), retried on refusals."""
        await self._retrying(lambda: super(RedisChannelLayer, self).flush())


def layer_summary(layer: Any) -> str:
    """Short description of a layer instance for start-up lines (no secrets)."""
    hosts = getattr(layer, "hosts", None) or []
    addresses = [host_address(host) for host in hosts if "address" in host or "host" in host]
    name = f"{type(layer).__module__}.{type(layer).__qualname__}"
    return f"{name} ({', '.join(addresses)})" if addresses else name


class RedisPubSubChannelLayer(StockPubSubChannelLayer):  # type: ignore[misc]
    """channels_redis's pub/sub layer, with background channels that each reader gets once.

    Pub/sub is the fast path for groups and for each consumer's own channel. For a normal
    channel ("jobs") it is wrong: every worker subscribed to it receives every message (and
    none receives it if no worker is listening at that moment). So normal channels go
    through the exactly-once sorted-set queue of :class:`RedisChannelLayer` on the same
    hosts; process-specific names carry a ``!`` so the two kinds are told apart. Both
    halves share one command pool per host (:mod:`.pubsub`).
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

    def _get_layer(self) -> Any:
        """This loop's pub/sub half, publishing through the queue's command pool."""
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = BudgetLoopLayer(
                *self._args, **self._kwargs, channel_layer=self, queue=self._queue
            )
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer

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

    async def stop_reading(self) -> None:
        """Stop the background channels' reader in this loop."""
        await self._queue.stop_reading()

    async def flush(self) -> None:
        """Flush both halves."""
        await self._get_layer().flush()
        await self._queue.flush()
