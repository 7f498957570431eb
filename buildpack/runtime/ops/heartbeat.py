"""A heartbeat per process in the channel layer's Redis: who is running and what it serves.

Each launcher (web, worker; any engine) starts one asyncio task that writes a small JSON string
to ``<prefix>:cbp:process:<dyno>:<pid>`` on the layer's first shard every
``CHANNELS_HEARTBEAT_SECONDS`` (default 10; ``0`` turns heartbeats off), expiring after three
intervals: a process that dies without a word disappears from ``status`` within 30 s, one that
stops cleanly deletes its key. No extra add-on, no extra connection: the commands go through
the layer's own connection pool (``layer.connection(0)``), which the process keeps anyway.
Names with ``:`` are never channel names, so these keys cannot collide with the layer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from buildpack import envvars, log, messages

TTL_INTERVALS = 3
BEAT_INFIX = ":cbp:process:"
STOP_TIMEOUT = 2.0
Stats = Callable[[], Mapping[str, int]]


def key_prefix(layer_prefix: str) -> str:
    """The prefix every heartbeat key of a layer with *layer_prefix* starts with."""
    return f"{layer_prefix}{BEAT_INFIX}"


def process_name(role: str) -> str:
    """``$DYNO`` on a dyno (``worker.2``); elsewhere ``<role>@<host>``."""
    return envvars.DYNO.raw() or f"{role}@{socket.gethostname()}"


def redis_layer(layer: Any) -> Any | None:
    """The channels_redis core layer behind *layer* (ours or stock; pub/sub: its queue), or None."""
    if layer is None:
        return None
    if hasattr(layer, "connection") and hasattr(layer, "ring_size"):
        return layer
    queue = getattr(layer, "_queue", None)  # our pub/sub layer's exactly-once queue
    return queue if hasattr(queue, "connection") else None


class Heartbeat:
    """Refresh this process's key until :meth:`stop`; errors are logged once, then retried."""

    def __init__(
        self,
        layer: Any,
        role: str,
        channels: list[str],
        *,
        every: float,
        stats: Stats | None = None,
    ) -> None:
        self.layer = layer
        self.every = every
        self.stats = stats
        self.name = process_name(role)
        self.key = f"{key_prefix(layer.prefix)}{self.name}:{os.getpid()}"
        self.static = {
            "role": role,
            "dyno": self.name,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "channels": list(channels),
            "started": time.time(),
            "interval": every,
        }
        self.task: asyncio.Task[None] | None = None
        self._failed = False

    def payload(self) -> str:
        """The JSON value written: names and numbers only."""
        data: dict[str, Any] = {**self.static, "beat": time.time()}
        if self.stats is not None:
            data.update({k: int(v) for k, v in self.stats().items()})
        return json.dumps(data, separators=(",", ":"))

    async def beat(self) -> None:
        """Write the key once (with its expiry)."""
        ttl_ms = max(1, int(self.every * TTL_INTERVALS * 1000))
        await self.layer.connection(0).set(self.key, self.payload(), px=ttl_ms)

    def start(self) -> Heartbeat:
        """Start beating in the running event loop."""
        self.task = asyncio.ensure_future(self._run())
        return self

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
                self._failed = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._failed:
                    error = f"{type(exc).__name__}: {exc}"
                    log.runtime_warning("heartbeat", messages.HEARTBEAT_FAILED.format(error=error))
                self._failed = True
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        """Stop beating and delete the key (best effort, bounded): ``status`` drops us at once."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.layer.connection(0).delete(self.key), STOP_TIMEOUT)


def start(
    layer: Any, role: str, channels: list[str], stats: Stats | None = None
) -> Heartbeat | None:
    """Start a heartbeat for this process when the layer is Redis and heartbeats are on."""
    target = redis_layer(layer)
    every = envvars.heartbeat_seconds()
    if target is None or every <= 0:
        return None
    return Heartbeat(target, role, channels, every=every, stats=stats).start()
