"""A channel-layer scenario shared by the tests and ``bench.diagnostics``: many consumers of
one process disconnecting one after another, as when a web process closes its sockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

GROUP = "drain"


async def drain_consumer(layer: Any, stop: asyncio.Event) -> None:
    """A consumer in miniature: joins a group, waits on its channel and on its client, and
    leaves the group when the client (``stop``) disconnects."""
    from channels.utils import await_many_dispatch

    name = await layer.new_channel()
    await layer.group_add(GROUP, name)

    async def client_receive() -> dict[str, str]:
        await stop.wait()
        return {"type": "websocket.disconnect"}

    async def dispatch(message: dict[str, str]) -> None:
        if message["type"] == "websocket.disconnect":
            await layer.group_discard(GROUP, name)
            raise StopAsyncIteration

    with contextlib.suppress(StopAsyncIteration):
        await await_many_dispatch([client_receive, lambda: layer.receive(name)], dispatch)


async def disconnect_round(
    layer: Any, consumers: int, *, settle: float, timeout: float, gap: float = 0.0005
) -> tuple[float, int]:
    """Start *consumers*, let them settle, disconnect them *gap* seconds apart; returns
    (seconds until all finished, how many still ran after *timeout*; those are cancelled)."""
    stops = [asyncio.Event() for _ in range(consumers)]
    tasks = [asyncio.ensure_future(drain_consumer(layer, stop)) for stop in stops]
    await asyncio.sleep(settle)
    started = time.monotonic()
    for stop in stops:
        stop.set()
        await asyncio.sleep(gap)
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    seconds = time.monotonic() - started
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return seconds, len(pending)
