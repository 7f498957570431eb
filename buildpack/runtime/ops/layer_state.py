"""Read-only views of a channel layer's state, for ``status`` and the autoscaling endpoint.

Key shapes (channels_redis ``core.py``, unchanged by our subclass):

* a normal (background) channel ``X``: sorted set ``<prefix>X``, member = message, score = send
  time. Sends go round-robin over the shards, so a channel's depth is the sum over shards, and
  ``capacity`` is enforced per shard (``ChannelFull`` when one shard's set is full);
* a process-specific channel ``specific.<id>!...``: ``<prefix>specific.<id>!`` on one shard
  (a consumer process's inbox);
* group ``G``: sorted set ``<prefix>:group:G``, member = channel, score = join time, key TTL =
  ``group_expiry``, on shard ``consistent_hash(G)``; members older than ``group_expiry`` are
  stale (dropped by the next ``group_send``);
* our heartbeats: ``<prefix>:cbp:process:...`` (see :mod:`~buildpack.runtime.ops.heartbeat`).

Only reading commands run here (SCAN, ZCARD, ZRANGE, ZCOUNT, TTL, GET, INFO).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from buildpack import messages
from buildpack.messages import StatusError
from buildpack.runtime.ops.heartbeat import key_prefix

GROUP_INFIX = ":group:"
SCAN_COUNT = 1000
PIPELINE_CHUNK = 500
EVICTING_POLICIES = frozenset(
    {
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    }
)


@dataclass
class ChannelStat:
    """A background channel: messages waiting, the oldest one's age, capacity use."""

    name: str
    depth: int = 0
    oldest_age: float | None = None
    capacity: int = 100
    per_shard: list[int] = field(default_factory=list)

    @property
    def capacity_use(self) -> float:
        """The fullest shard's share of ``capacity`` (sends fail at 1.0)."""
        return max(self.per_shard or [0]) / self.capacity if self.capacity else 0.0

    def numbers(self) -> dict[str, Any]:
        """What the autoscaling endpoint publishes for this channel."""
        age = None if self.oldest_age is None else round(self.oldest_age, 3)
        return {
            "depth": self.depth,
            "oldest_age": age,
            "capacity": self.capacity,
            "capacity_use": round(self.capacity_use, 3),
        }


@dataclass
class GroupStat:
    """A group: members, stale members (joined longer than ``group_expiry`` ago), key expiry."""

    name: str
    members: int
    stale: int
    expires_in: int | None
    shard: int


@dataclass
class ServerStat:
    """One Redis server (shard) as it reports itself."""

    shard: int
    address: str
    version: str = ""
    clients: int = 0
    maxclients: int | None = None
    blocked_clients: int = 0
    used_memory: int = 0
    maxmemory: int = 0
    policy: str = ""
    error: str | None = None

    @property
    def evicting(self) -> bool:
        """True when Redis may delete the layer's keys to free memory."""
        return self.policy in EVICTING_POLICIES


@dataclass
class LayerState:
    """Everything ``status`` shows, in one JSON-friendly object."""

    time: float
    backend: str
    prefix: str
    shards: int
    channels: list[ChannelStat] = field(default_factory=list)
    groups: list[GroupStat] = field(default_factory=list)
    group_count: int = 0
    inboxes: int = 0
    inbox_messages: int = 0
    processes: list[dict[str, Any]] = field(default_factory=list)
    servers: list[ServerStat] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class KeyScan:
    """The layer's keys on one shard, by kind."""

    channels: set[str] = field(default_factory=set)
    groups: list[bytes] = field(default_factory=list)
    inboxes: list[bytes] = field(default_factory=list)
    beats: list[bytes] = field(default_factory=list)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def classify(keys: Iterable[bytes], prefix: str) -> KeyScan:
    """Sort *keys* (all starting with *prefix*) into channels, groups, inboxes, heartbeats."""
    scan = KeyScan()
    raw_prefix = prefix.encode()
    groups = (prefix + GROUP_INFIX).encode()
    beats = key_prefix(prefix).encode()
    for key in keys:
        if key.startswith(groups):
            scan.groups.append(key)
        elif key.startswith(beats):
            scan.beats.append(key)
        elif key.startswith(raw_prefix + b":") or key.endswith(b"$inflight"):
            continue  # another tool's key, or a stock reader's in-flight backup set
        elif b"!" in key:
            scan.inboxes.append(key)
        elif len(key) > len(raw_prefix):
            scan.channels.add(key[len(raw_prefix) :].decode("utf-8", "replace"))
    return scan


async def scan_keys(client: Any, prefix: str) -> KeyScan:
    """SCAN one shard for the layer's keys (non-blocking for Redis, cursor by cursor)."""
    keys = [k async for k in client.scan_iter(match=_glob_escape(prefix) + "*", count=SCAN_COUNT)]
    return classify(keys, prefix)


def _chunks(items: list[Any], size: int = PIPELINE_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def channel_stats(
    clients: list[Any],
    prefix: str,
    channels: Iterable[str],
    capacity_of: Callable[[str], int],
    now: float | None = None,
) -> list[ChannelStat]:
    """Depth (summed over shards), oldest message age and capacity use of each channel."""
    now = time.time() if now is None else now
    stats = [ChannelStat(name, capacity=capacity_of(name)) for name in sorted(set(channels))]
    for client in clients:
        replies: list[Any] = []
        for chunk in _chunks(stats):
            pipe = client.pipeline(transaction=False)
            for stat in chunk:
                pipe.zcard(prefix + stat.name)
                pipe.zrange(prefix + stat.name, 0, 0, withscores=True)
            replies += await pipe.execute(raise_on_error=False)
        for index, stat in enumerate(stats):
            depth, oldest = replies[2 * index], replies[2 * index + 1]
            depth = depth if isinstance(depth, int) else 0
            stat.per_shard.append(depth)
            stat.depth += depth
            if depth and isinstance(oldest, list) and oldest:
                age = max(0.0, now - float(oldest[0][1]))
                stat.oldest_age = max(age, stat.oldest_age or 0.0)
    return stats


async def group_stats(
    client: Any, shard: int, keys: list[bytes], prefix: str, group_expiry: int, now: float
) -> list[GroupStat]:
    """Members, stale members and expiry of each group key on one shard."""
    start = len(prefix + GROUP_INFIX)
    cutoff = now - group_expiry
    found: list[GroupStat] = []
    for chunk in _chunks(keys):
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.zcard(key)
            pipe.zcount(key, "-inf", cutoff)
            pipe.ttl(key)
        replies = await pipe.execute(raise_on_error=False)
        for index, key in enumerate(chunk):
            members, stale, ttl = replies[3 * index : 3 * index + 3]
            if not isinstance(members, int) or not members:
                continue
            found.append(
                GroupStat(
                    name=key[start:].decode("utf-8", "replace"),
                    members=members,
                    stale=stale if isinstance(stale, int) else 0,
                    expires_in=ttl if isinstance(ttl, int) and ttl >= 0 else None,
                    shard=shard,
                )
            )
    return found


async def inbox_messages(client: Any, keys: list[bytes]) -> int:
    """Messages waiting in processes' own channels (a busy or stuck consumer process)."""
    total = 0
    for chunk in _chunks(keys):
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.zcard(key)
        total += sum(r for r in await pipe.execute(raise_on_error=False) if isinstance(r, int))
    return total


async def heartbeats(client: Any, keys: list[bytes], now: float) -> list[dict[str, Any]]:
    """The live processes' heartbeat values, with ``seen`` (seconds since the last beat)."""
    if not keys:
        return []
    values = await client.mget(keys)
    found = []
    for value in values:
        try:
            data = json.loads(value) if value else None
        except ValueError:
            data = None
        if isinstance(data, dict):
            data["seen"] = round(max(0.0, now - float(data.get("beat", now))), 1)
            found.append(data)
    return sorted(found, key=lambda d: (str(d.get("dyno")), int(d.get("pid", 0))))


async def server_stat(client: Any, shard: int, address: str) -> ServerStat:
    """Clients and memory as the server reports them (INFO works where CONFIG is disabled)."""
    stat = ServerStat(shard=shard, address=address)
    try:
        info = await client.info()
    except Exception as exc:
        stat.error = f"{type(exc).__name__}: {exc}"
        return stat
    stat.version = str(info.get("redis_version", ""))
    stat.clients = int(info.get("connected_clients", 0))
    stat.blocked_clients = int(info.get("blocked_clients", 0))
    stat.used_memory = int(info.get("used_memory", 0))
    stat.maxmemory = int(info.get("maxmemory", 0))
    stat.policy = str(info.get("maxmemory_policy", ""))
    if "maxclients" in info:
        stat.maxclients = int(info["maxclients"])
    return stat


def memory_channel_stats(layer: Any, channels: Iterable[str], now: float) -> list[ChannelStat]:
    """The same numbers from an in-memory layer (ours or stock), read in its own process.

    ``layer.channels`` maps a channel to a queue of ``(expires_at, message)``: a copy taken under
    the lock for our layer, the live queue for the stock one, so it is only looked at, never
    drained.
    """
    queues = layer.channels
    expiry = float(getattr(layer, "expiry", 60))
    stats = []
    for name in sorted(set(channels)):
        items = list(getattr(queues.get(name), "_queue", ()))
        capacity = int(layer.get_capacity(name))
        stat = ChannelStat(name, depth=len(items), capacity=capacity, per_shard=[len(items)])
        if items:
            stat.oldest_age = max(0.0, now - (float(items[0][0]) - expiry))
        stats.append(stat)
    return stats


# -- one read-only client per shard (status, doctor) -----------------------------------


def queue_layer(config: dict[str, Any]) -> Any:
    """A channels_redis core layer with the app's hosts and options (it never connects)."""
    # late import: status and doctor build it only when the settings name a Redis layer
    from buildpack.runtime.layers.redis import RedisChannelLayer

    options = dict(config.get("CONFIG") or {})
    keep = ("hosts", "prefix", "capacity", "expiry", "group_expiry", "channel_capacity")
    return RedisChannelLayer(**{k: v for k, v in options.items() if k in keep})


def open_clients(layer: Any) -> list[Any]:
    """One single-connection client per shard (closed by :func:`close_clients`)."""
    from redis.asyncio import Redis

    # late import: status and doctor open clients only when the settings name a Redis layer
    from buildpack.runtime.layers.redis import blocking_pool

    clients = []
    for host in layer.hosts:
        if "sentinels" in host:
            raise StatusError(messages.STATUS_SENTINEL)
        clients.append(Redis(connection_pool=blocking_pool(host, size=1)))
    return clients


async def close_clients(clients: list[Any]) -> None:
    """Close every client and its pool."""
    for client in clients:
        await client.aclose(close_connection_pool=True)
