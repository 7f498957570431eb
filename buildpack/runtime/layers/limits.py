"""At start: does the formation this process can see fit the Redis server's client limit?

The limit is ``maxclients`` from ``INFO clients`` (Redis 7+) or ``CONFIG GET maxclients``
(often disabled on managed Redis); when neither answers, nothing is said. What is needed
is the larger of the formation this process can see
(:func:`~buildpack.runtime.config.formation.visible_formation`) and the clients connected
right now by everyone else plus this dyno's own. One warning line per Redis host.
"""

from __future__ import annotations

from typing import Any

from buildpack import log
from buildpack.redact import redact_url
from buildpack.runtime.config.formation import (
    STEADY_CLIENTS,
    over_limit_message,
    visible_formation,
)


async def client_limit(client: Any) -> tuple[int | None, int | None]:
    """(maxclients, connected_clients) of the server behind *client*; None if unknown."""
    limit: int | None = None
    connected: int | None = None
    try:
        info = await client.info("clients")
        connected = int(info["connected_clients"])
        if "maxclients" in info:
            limit = int(info["maxclients"])
    except Exception:  # INFO disabled or Redis away: the probe already said so
        pass
    if limit is None:
        try:
            answer = await client.config_get("maxclients")
            limit = int(answer["maxclients"])
        except Exception:  # CONFIG is disabled on most managed Redis plans
            pass
    return limit, connected


def _queue_layer(layer: Any) -> Any:
    queue = getattr(layer, "_queue", layer)  # our pub/sub layer: its sorted-set half
    return queue if hasattr(queue, "connection") and hasattr(queue, "ring_size") else None


def _address(layer: Any, index: int) -> str:
    host = layer.hosts[index]
    return redact_url(str(host.get("address", f"{host.get('host')}:{host.get('port', 6379)}")))


async def warn_if_over_limit(
    layer: Any, *, dyno_processes: int, worker: bool, pubsub: bool
) -> None:
    """Log one line per Redis host whose client limit the visible formation exceeds."""
    queue = _queue_layer(layer)
    if queue is None:
        return
    formation = visible_formation(pubsub=pubsub)
    per_process = formation.worker_clients if worker else STEADY_CLIENTS
    for index in range(queue.ring_size):
        client = queue.connection(index)
        limit, connected = await client_limit(client)
        if limit is None:
            continue
        pool = client.connection_pool
        own = pool.open_connections() if hasattr(pool, "open_connections") else 1
        now = max(0, (connected or 0) - own) + dyno_processes * per_process
        line = over_limit_message(
            formation,
            limit,
            where=f"Redis at {_address(queue, index)}",
            pubsub=pubsub,
            now=now,
            connected=connected,
        )
        if line:
            log.runtime_warning("redis", line)
