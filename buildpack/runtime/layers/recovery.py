"""Putting back what a Redis that lost its data held for this process: group memberships.

Heroku Key-Value Store mini has no persistence and no standby: a reboot brings it back
empty on the same URL. The WebSockets stay open (the web process reconnects to Redis), but
every ``group_add`` they made is gone, so a message to a room reaches nobody who joined
before the restart, silently, until each user reloads. channels_redis keeps groups only in
Redis; nothing upstream restores them.

Each process remembers the memberships its consumers hold (``group_add`` minus
``group_discard``, per layer instance) and keeps an *alive marker* key on every Redis host
where it holds one (``<prefix>:cbp:alive:<uuid>``, expiring with ``group_expiry``). A guard
in the event loop where the consumers run checks the marker every :data:`CHECK_EVERY`
seconds, and at once when Redis is reachable again after an outage (``EXPIRE`` on the
marker: one command, which also keeps it alive). A missing marker means the host lost its
data (restarted empty, flushed, failed over to a replica that never had it): the process
adds its memberships back in one pipeline, logs one line, and sets the marker again. Adding
a member that is already there changes nothing, so a false alarm costs one pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from buildpack import log, messages
from buildpack.runtime.layers import host_address
from buildpack.runtime.layers.resilience import in_background, is_transient, on_recovery

CHECK_EVERY = 2.0
MARKER_INFIX = ":cbp:alive:"

# Adds a member and keeps its group and the process's marker alive: one round trip, and
# the same result however often it runs (a retry after a lost reply adds nothing twice).
GROUP_ADD_SCRIPT = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
return 1
"""


class Memberships:
    """The group memberships of one layer instance's consumers, and their guard."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.groups: dict[str, dict[str, float]] = {}  # group -> channel -> joined (epoch)
        self.marker = f"{layer.prefix}{MARKER_INFIX}{uuid.uuid4().hex}"
        self._wake: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}
        on_recovery(self.check_soon)

    # -- bookkeeping ---------------------------------------------------------------------

    def added(self, group: str, channel: str) -> None:
        self.groups.setdefault(group, {})[channel] = time.time()

    def discarded(self, group: str, channel: str) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.pop(channel, None)
            if not members:
                self.groups.pop(group, None)

    def holds(self, group: str, channel: str) -> bool:
        return channel in self.groups.get(group, {})

    def by_host(self) -> dict[int, dict[str, list[str]]]:
        """Host index -> group -> channels, for the groups this process holds members in."""
        cutoff = time.time() - self.layer.group_expiry  # stock forgets these too
        hosts: dict[int, dict[str, list[str]]] = {}
        for group, members in list(self.groups.items()):
            alive = [channel for channel, since in list(members.items()) if since > cutoff]
            if alive:
                index = self.layer.consistent_hash(group)
                hosts.setdefault(index, {})[group] = alive
        return hosts

    # -- the guard -----------------------------------------------------------------------

    def guard(self) -> None:
        """Make sure this event loop checks the markers (call from a coroutine)."""
        loop = asyncio.get_running_loop()
        if loop not in self._wake:
            self._wake[loop] = asyncio.Event()
            in_background(self._watch(loop), "checking Redis for lost group memberships")

    def check_soon(self) -> None:
        """Check now rather than at the next tick (Redis is back after an outage)."""
        for loop, event in list(self._wake.items()):
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(event.set)

    async def stop(self) -> None:
        """Stop this loop's guard (its loop is closing)."""
        event = self._wake.pop(asyncio.get_running_loop(), None)
        if event is not None:
            event.set()

    async def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        while loop in self._wake:
            event = self._wake[loop]
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), CHECK_EVERY)
            event.clear()
            if loop not in self._wake:
                return
            try:
                await self.check()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # Redis away: the outage is logged where it bites; we check again later

    async def check(self) -> int:
        """Put back the memberships of every host whose marker is gone; how many."""
        restored = 0
        for index, groups in self.by_host().items():
            connection = self.layer.connection(index)
            if await connection.expire(self.marker, int(self.layer.group_expiry)):
                continue
            count = await self._restore(connection, groups)
            self._say_restored(index, count)
            restored += count
        return restored

    async def _restore(self, connection: Any, groups: dict[str, list[str]]) -> int:
        expiry = int(self.layer.group_expiry)
        now = time.time()
        async with connection.pipeline(transaction=False) as pipe:
            for group, channels in groups.items():
                key = self.layer._group_key(group)
                pipe.zadd(key, dict.fromkeys(channels, now))
                pipe.expire(key, expiry)
            pipe.set(self.marker, "1", ex=expiry)
            await pipe.execute()
        # A consumer that left while we wrote must not stay in its group.
        left = [(g, c) for g, cs in groups.items() for c in cs if not self.holds(g, c)]
        if left:
            async with connection.pipeline(transaction=False) as pipe:
                for group, channel in left:
                    pipe.zrem(self.layer._group_key(group), channel)
                await pipe.execute()
        return sum(len(channels) for channels in groups.values()) - len(left)

    def _say_restored(self, index: int, count: int) -> None:
        address = host_address(self.layer.hosts[index])
        text = messages.REDIS_DATA_LOST.format(address=address, count=count)
        log.runtime_warning("redis", text)
