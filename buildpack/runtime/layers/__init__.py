"""Channel layers shipped by channels-buildpack (import the submodule you need).

* :mod:`buildpack.runtime.layers.redis`: channels_redis core, exactly-once and idle-safe; and
  the pub/sub layer with exactly-once background channels. Built from:
  :mod:`.reader` (one blocking reader per process), :mod:`.connections` (connection options,
  the budgeted command pool), :mod:`.resilience` (retries, outage log, background work),
  :mod:`.pubsub` (the pub/sub layer's connections), :mod:`.limits` (the server's client
  limit at start) and :mod:`.formation` (how many clients the app's processes need).
* :mod:`buildpack.runtime.layers.memory`: in-memory, safe across threads and event loops.

Here, standard library only (the launchers import it whatever the layer): the backend paths,
and :func:`host_address`, how every log line and report names a Redis host.
"""

from __future__ import annotations

from typing import Any

from buildpack.redact import redact_url

MEMORY_BACKEND = "buildpack.layers.memory.InMemoryChannelLayer"
REDIS_BACKEND = "buildpack.layers.redis.RedisChannelLayer"
STOCK_MEMORY_BACKEND = "channels.layers.InMemoryChannelLayer"
STOCK_REDIS_BACKEND = "channels_redis.core.RedisChannelLayer"
PUBSUB_BACKEND = "buildpack.layers.redis.RedisPubSubChannelLayer"
STOCK_PUBSUB_BACKEND = "channels_redis.pubsub.RedisPubSubChannelLayer"
RABBITMQ_BACKEND = "channels_rabbitmq.core.RabbitmqChannelLayer"
MEMORY_BACKENDS = frozenset({MEMORY_BACKEND, STOCK_MEMORY_BACKEND})


def host_address(host: dict[str, Any]) -> str:
    """A channels_redis host (one shard) for display, its password masked."""
    if "address" in host:
        return redact_url(str(host["address"]))
    if "sentinels" in host:
        return f"sentinel {host.get('master_name', '?')}"
    return f"{host.get('host', 'localhost')}:{host.get('port', 6379)}"
