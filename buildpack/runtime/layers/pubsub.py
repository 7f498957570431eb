"""The pub/sub layer's connections, within the same per-process budget as the core layer.

channels_redis's pub/sub layer opens, per Redis host and event loop, a subscription
connection and an unbounded pool for ``PUBLISH`` (one connection at a time in practice);
our pub/sub layer adds the exactly-once queue for background channels with its own
pool: 3-5 clients per process. Here:

* ``PUBLISH`` uses the queue's command pool (one shared :class:`BudgetPool` per host);
* the subscription has a one-connection pool of its own and counts as a reader against
  the budget, like the queue's blocking reader (a worker has both);
* a dropped or refused subscription connection is logged once (no traceback) and
  re-established with backoff; publishing and subscribing retry like the core layer's
  commands, up to the message expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels_redis.pubsub import RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import decode_hosts

from buildpack.runtime.layers.connections import blocking_pool
from buildpack.runtime.layers.resilience import (
    OUTAGE,
    RETRY_BACKOFF,
    is_transient,
    outage_for,
    retrying,
)

POLL_SECONDS = 0.1  # channels_redis's own get_message timeout


class BudgetShard(RedisSingleShardConnection):  # type: ignore[misc]
    """One host of the pub/sub layer: publishes on the shared command pool."""

    _redis: Any
    _pubsub: Any
    _receive_task: Any
    _subscribed_to: set[str]

    def __init__(self, host: dict[str, Any], loop_layer: Any, queue: Any, index: int) -> None:
        super().__init__(host, loop_layer)
        self.queue = queue
        self.index = index
        self._subscriber: Any = None
        self._reserved_in: Any = None

    def _ensure_redis(self) -> None:
        if self._redis is None:
            from redis.asyncio import Redis

            self._redis = self.queue.connection(self.index)  # shared: PUBLISH
            options = {**self.queue.hosts[self.index]}
            self._subscriber = Redis(connection_pool=blocking_pool(options, size=1))
            self._pubsub = self._subscriber.pubsub()
            pool = self._redis.connection_pool
            if hasattr(pool, "reserve"):
                pool.reserve(1)  # the subscription is a reader of this process
                self._reserved_in = pool

    async def _patiently(self, operation: Any) -> Any:
        return await retrying(operation, patience=float(self.queue.expiry))

    async def publish(self, channel: str, message: bytes) -> None:
        await self._patiently(lambda: super(BudgetShard, self).publish(channel, message))

    async def subscribe(self, channel: str) -> None:
        await self._patiently(lambda: super(BudgetShard, self).subscribe(channel))

    async def unsubscribe(self, channel: str) -> None:
        """Best effort: a consumer that leaves while Redis is away needs no error."""
        try:
            await super().unsubscribe(channel)
        except Exception as exc:
            if not is_transient(exc):
                raise
            outage_for(exc).failed(exc)
            self._subscribed_to.discard(channel)

    async def _do_receiving(self) -> None:
        """channels_redis's receive loop, with one log line per outage, no traceback."""
        delays = iter(RETRY_BACKOFF)
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=POLL_SECONDS
                    )
                    self._receive_message(message)
                else:
                    await asyncio.sleep(POLL_SECONDS)
            except (asyncio.CancelledError, asyncio.TimeoutError, GeneratorExit):
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                outage_for(exc).failed(exc)
                await asyncio.sleep(next(delays, RETRY_BACKOFF[-1]))
                continue
            OUTAGE.recovered()
            delays = iter(RETRY_BACKOFF)

    async def flush(self) -> None:
        """Stop receiving and close the subscription (the shared pool stays the queue's)."""
        async with self._lock:
            if self._receive_task is not None:
                self._receive_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._receive_task
                self._receive_task = None
            if self._subscriber is not None:
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()
                with contextlib.suppress(Exception):
                    await self._subscriber.aclose(close_connection_pool=True)
            if self._reserved_in is not None:
                self._reserved_in.reserve(-1)
            self._redis = self._pubsub = self._subscriber = self._reserved_in = None
            self._subscribed_to = set()


class BudgetLoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]
    """channels_redis's per-loop pub/sub layer, on :class:`BudgetShard`\\ s."""

    def __init__(self, *args: Any, queue: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hosts = kwargs.get("hosts", args[0] if args else None)
        self._shards = [
            BudgetShard(host, self, queue, index) for index, host in enumerate(decode_hosts(hosts))
        ]
