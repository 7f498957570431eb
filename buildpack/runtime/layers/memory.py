"""An in-memory channel layer that is safe across threads and event loops.

Channels' ``InMemoryChannelLayer`` keeps ``asyncio.Queue`` objects. A queue binds to the
event loop that first waits on it, and waking a waiter from another thread does not wake
that loop. In one Daphne process that is exactly what happens: sync views and sync
consumers call ``async_to_sync(layer.group_send)`` from worker threads (sometimes on their
own short-lived loops), while consumers wait on the server's loop. Messages then arrive
late, never, or raise "bound to a different event loop".

This layer keeps messages in plain deques under a ``threading.Lock``. A receiver waits on
a future of *its own* running loop; a sender, from any thread or loop, appends under the
lock and wakes every waiter of that channel with ``loop.call_soon_threadsafe``. A woken
receiver re-checks the deque, so no message is ever held by a cancelled waiter.

Semantics follow the stock layer: per-channel capacity (``ChannelFull``), message expiry,
group expiry, expired messages drop their channel from groups. A send expires the channel it
touches; a receive or ``group_send`` also sweeps every other channel and group, at most every
``min(1 s, expiry / 2)``: the stock layer scans every channel and group member on each receive
and group send, which is quadratic in a group of 1,000 sockets. Like stock, a send never
cleans up other channels.

It is a subclass of the stock class (``isinstance`` checks keep working) that overrides every
stock method, so none of the unlocked stock code runs. The stock attributes ``channels`` and
``groups``, which test suites inspect, are copies in the stock shapes taken under the lock.
It still only works inside one process: that is what single-process mode is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
import threading
import time
from collections import deque
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer

Message = dict[str, Any]


class InMemoryChannelLayer(StockInMemoryChannelLayer):  # type: ignore[misc]
    """Process-local layer with groups; any thread or event loop may send or receive."""

    extensions = ["groups", "flush"]

    def __init__(
        self,
        expiry: int = 60,
        group_expiry: int = 86400,
        capacity: int = 100,
        channel_capacity: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        # Not the stock initializer: all it adds is the unlocked dicts this class replaces.
        BaseChannelLayer.__init__(self, expiry=expiry, capacity=capacity, **kwargs)
        # Compiled, as channels_redis does: the stock in-memory layer keeps the dict, and its
        # first send then fails in get_capacity ("too many values to unpack").
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.group_expiry = group_expiry
        self._lock = threading.Lock()
        self._messages: dict[str, deque[tuple[float, Message]]] = {}
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        self._groups: dict[str, dict[str, float]] = {}
        self._memberships: dict[str, set[str]] = {}  # channel -> groups (for expiry)
        self._sweep_every = min(1.0, expiry / 2)
        self._next_sweep = 0.0

    # -- the stock attributes, read-only copies ----------------------------------------------

    @property
    def channels(self) -> dict[str, asyncio.Queue[tuple[float, Message]]]:
        """Stock shape: channel -> queue of ``(expires_at, message)``; a copy under the lock.

        Lists the channels that hold messages or have a receiver waiting, as stock does.
        Changing the copy does not change the layer (``flush()`` empties it).
        """
        with self._lock:
            names = [*self._messages, *(n for n in self._waiters if n not in self._messages)]
            entries = {name: list(self._messages.get(name, ())) for name in names}
        copies: dict[str, asyncio.Queue[tuple[float, Message]]] = {}
        for name, items in entries.items():
            queue: asyncio.Queue[tuple[float, Message]] = asyncio.Queue(
                maxsize=max(self.get_capacity(name), len(items))
            )
            for item in items:
                queue.put_nowait(item)
            copies[name] = queue
        return copies

    @property
    def groups(self) -> dict[str, dict[str, float]]:
        """Stock shape: group -> {channel: time it joined}; a copy taken under the lock."""
        with self._lock:
            return {group: dict(members) for group, members in self._groups.items()}

    # -- channels ----------------------------------------------------------------------------

    async def send(self, channel: str, message: Message) -> None:
        """Queue *message* on *channel* and wake its receivers, whatever thread they wait in."""
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, deepcopy(message))

    def _put(self, channel: str, message: Message) -> None:
        with self._lock:
            self._expire_channel_locked(channel, time.time())
            queue = self._messages.setdefault(channel, deque())
            if len(queue) >= self.get_capacity(channel):
                raise ChannelFull(channel)
            queue.append((time.time() + self.expiry, message))
            waiters = self._waiters.pop(channel, set())
        for loop, future in waiters:
            loop.call_soon_threadsafe(_wake, future)

    async def receive(self, channel: str) -> Message:
        """Wait for the next message on *channel* (first come, first served)."""
        self.require_valid_channel_name(channel)
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                self._expire_locked(channel)
                queue = self._messages.get(channel)
                if queue:
                    _, message = queue.popleft()
                    if not queue:
                        del self._messages[channel]
                    return message
                waiter = (loop, loop.create_future())
                self._waiters.setdefault(channel, set()).add(waiter)
            try:
                await waiter[1]
            finally:
                with self._lock:
                    pending = self._waiters.get(channel)
                    if pending is not None:
                        pending.discard(waiter)
                        if not pending:
                            del self._waiters[channel]

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A fresh process-local channel name."""
        suffix = "".join(random.choice(string.ascii_letters) for _ in range(12))
        return f"{prefix}.inmemory!{suffix}"

    # -- groups ------------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        """Add *channel* to *group*."""
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        with self._lock:
            self._groups.setdefault(group, {})[channel] = time.time()
            self._memberships.setdefault(channel, set()).add(group)

    async def group_discard(self, group: str, channel: str) -> None:
        """Remove *channel* from *group* (no error if absent)."""
        self.require_valid_channel_name(channel)
        self.require_valid_group_name(group)
        with self._lock:
            self._leave_locked(group, channel)

    async def group_send(self, group: str, message: Message) -> None:
        """Send *message* to every channel in *group*; full channels are skipped."""
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        with self._lock:
            self._expire_locked()
            cutoff = time.time() - self.group_expiry
            members = [c for c, joined in self._groups.get(group, {}).items() if joined >= cutoff]
        for channel in members:
            with contextlib.suppress(ChannelFull):  # a full member misses this one, like stock
                self._put(channel, deepcopy(message))

    def group_members(self, group: str) -> list[str]:
        """Channels currently in *group* (for diagnostics and tests)."""
        with self._lock:
            return sorted(self._groups.get(group, {}))

    # -- housekeeping ------------------------------------------------------------------------

    def _leave_locked(self, group: str, channel: str) -> None:
        members = self._groups.get(group)
        if members is not None:
            members.pop(channel, None)
            if not members:
                del self._groups[group]
        groups = self._memberships.get(channel)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del self._memberships[channel]

    def _expire_channel_locked(self, channel: str, now: float) -> None:
        queue = self._messages.get(channel)
        if not queue:
            return
        expired = False
        while queue and queue[0][0] < now:
            queue.popleft()
            expired = True
        if not queue:
            del self._messages[channel]
        if expired:  # like stock: a channel that lets messages expire leaves its groups
            self._leave_all_locked(channel)

    def _leave_all_locked(self, channel: str) -> None:
        for group in list(self._memberships.get(channel, ())):
            self._leave_locked(group, channel)

    def _expire_locked(self, channel: str | None = None) -> None:
        """Expire *channel* now; everything else at most every ``_sweep_every`` seconds.

        Called by receive and group_send, like stock's full clean-up; a send expires only
        its own channel (so expired messages never count against its capacity).
        """
        now = time.time()
        if channel is not None:
            self._expire_channel_locked(channel, now)
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_every
        for name in list(self._messages):
            self._expire_channel_locked(name, now)
        cutoff = now - self.group_expiry
        for group, members in list(self._groups.items()):
            for name, joined in list(members.items()):
                if joined < cutoff:
                    self._leave_locked(group, name)

    def _clean_expired(self) -> None:
        """The stock hook, locked: expire every channel and group membership now."""
        with self._lock:
            self._next_sweep = 0.0
            self._expire_locked()

    def _remove_from_groups(self, channel: str) -> None:
        """The stock hook, locked: remove *channel* from every group."""
        with self._lock:
            self._leave_all_locked(channel)

    async def flush(self) -> None:
        """Drop every message and group."""
        with self._lock:
            self._messages.clear()
            self._groups.clear()
            self._memberships.clear()

    async def close(self) -> None:
        """Nothing to close."""


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
