"""At start: fit this process to the Redis server's client limit, and say when the
formation this process can see does not fit.

The limit is ``maxclients`` from ``INFO clients``, or ``CONFIG GET maxclients`` when INFO
does not show it (CONFIG is often disabled on managed Redis); when neither answers,
nothing is said and the default budget stays. What is needed
is the larger of the formation this process can see
(:func:`~buildpack.runtime.layers.formation.visible_formation`) and the clients connected
right now by everyone else plus this dyno's own. One warning line per Redis host.
"""

from __future__ import annotations

from typing import Any

from buildpack import log, messages
from buildpack.runtime.layers import host_address
from buildpack.runtime.layers.formation import (
    STEADY_CLIENTS,
    over_limit_message,
    visible_formation,
)

SMALL_SERVER_CLIENTS = 40  # Heroku Key-Value Store: mini 20, premium-0 40
SMALL_SERVER_BUDGET = 2


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


def fit_budget(layer: Any, index: int, limit: int) -> int | None:
    """On a small server (fewer than 40 clients, e.g. Heroku's mini: 20) and unless a
    budget was set (``CHANNELS_REDIS_MAX_CONNECTIONS`` or ``max_connections``), a process
    opens at most 2 clients: its reader and one command connection. Returns the new budget."""
    host = layer.hosts[index]
    if "max_connections" in host or limit >= SMALL_SERVER_CLIENTS:
        return None
    host["max_connections"] = SMALL_SERVER_BUDGET  # pools of other event loops, later
    pool = layer.connection(index).connection_pool
    if hasattr(pool, "set_budget"):
        pool.set_budget(SMALL_SERVER_BUDGET)
    return SMALL_SERVER_BUDGET


async def fit_to_server(
    layer: Any, *, dyno_processes: int = 0, worker: bool = False, pubsub: bool = False
) -> None:
    """Read each host's client limit once: fit this process's budget to a small server,
    and (with *dyno_processes*) log one line when the visible formation exceeds it."""
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
        budget = fit_budget(queue, index, limit)
        if not dyno_processes:
            continue
        if budget is not None:
            log.runtime("redis", messages.REDIS_SMALL_SERVER.format(limit=limit, budget=budget))
        pool = client.connection_pool
        own = pool.open_connections() if hasattr(pool, "open_connections") else 1
        now = max(0, (connected or 0) - own) + dyno_processes * per_process
        line = over_limit_message(
            formation,
            limit,
            where=f"Redis at {host_address(queue.hosts[index])}",
            pubsub=pubsub,
            now=now,
            connected=connected,
        )
        if line:
            log.runtime_warning("redis", line)
