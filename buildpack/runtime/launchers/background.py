"""Running background channel consumers (``ChannelNameRouter``) with graceful shutdown.

Used by ``channels-buildpack worker`` and, in single-process mode, inside the web process.
Compared with ``manage.py runworker``:

* channel names are discovered from the application (no list in the Procfile:
  :mod:`buildpack.runtime.ops.background_channels`);
* ``concurrency`` consumer instances per channel, each handling one message at a time;
* a message is only taken from the layer when an instance is idle, so on SIGTERM nothing
  is half-taken: receiving stops, in-flight handlers finish, then the process exits;
* a layer error (Redis down) is logged and retried with backoff instead of killing the worker;
* on a stock channels_redis core layer, normal channels are read with the exactly-once
  receive from :mod:`buildpack.runtime.layers.redis`;
* with a Redis layer, all the slots of all the channels wait on ONE blocking reader per
  process (:mod:`buildpack.runtime.layers.reader`): a slot registers as a waiter only while
  it is idle, so a message is popped only when a consumer is free to take it.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from buildpack import log, messages
from buildpack.runtime.aio import raise_if_cancelled

RETRY_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)
ERROR_LOG_EVERY = 30.0
Receiver = Callable[[str], Awaitable[dict[str, Any]]]


def receiver_for(layer: Any) -> Receiver:
    """The receive function to use: exactly-once for any channels_redis core layer."""
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:
        return layer.receive  # type: ignore[no-any-return]
    # late import: our Redis layer needs channels_redis, which an app on another layer lacks
    from buildpack.runtime.layers.redis import RedisChannelLayer as Ours
    from buildpack.runtime.layers.redis import receive_exactly_once

    if isinstance(layer, RedisChannelLayer) and not isinstance(layer, Ours):

        async def receive(channel: str) -> dict[str, Any]:
            return await receive_exactly_once(layer, channel)

        return receive
    return layer.receive  # type: ignore[no-any-return]


class _Slot:
    """One consumer instance for one channel; takes the next message only when idle."""

    def __init__(self, worker: ChannelWorker, channel: str) -> None:
        self.worker = worker
        self.channel = channel
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.idle = asyncio.Event()
        self.idle.set()
        self.task: asyncio.Future[Any] | None = None
        self._warned_send = False

    def deliver(self, message: dict[str, Any]) -> None:
        self.idle.clear()
        if self.task is None or self.task.done():
            scope = {"type": "channel", "channel": self.channel}
            self.task = asyncio.ensure_future(
                self.worker.application(scope, self._receive, self._send)
            )
            self.task.add_done_callback(self._instance_done)
        self.queue.put_nowait(message)

    async def _receive(self) -> dict[str, Any]:
        if self.queue.empty():  # waiting with nothing queued: the last message is handled
            self.idle.set()
        return await self.queue.get()

    async def _send(self, message: dict[str, Any]) -> None:
        if not self._warned_send:
            self._warned_send = True
            log.runtime_warning(
                self.worker.component,
                messages.CONSUMER_SEND_WITHOUT_CLIENT.format(channel=self.channel),
            )

    def _instance_done(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            log.runtime_error(
                self.worker.component,
                messages.CONSUMER_RAISED.format(channel=self.channel, traceback=details.rstrip()),
            )
        self.task = None
        self.idle.set()


class ChannelWorker:
    """Serve background channels from a channel layer in the running event loop."""

    def __init__(
        self,
        application: Any,
        channels: list[str],
        layer: Any,
        *,
        concurrency: int = 1,
        component: str = "worker",
        receive: Receiver | None = None,
    ) -> None:
        from asgiref.compatibility import guarantee_single_callable

        self.application = guarantee_single_callable(application)
        self.channels = channels
        self.layer = layer
        self.concurrency = max(1, concurrency)
        self.component = component
        self.receive = receive or receiver_for(layer)
        self.slots = [_Slot(self, c) for c in channels for _ in range(self.concurrency)]
        self.listeners: list[asyncio.Task[None]] = []
        self.stopping = False
        self.handled = 0
        self._failing_since: float | None = None
        self._last_error_log = 0.0

    @property
    def busy(self) -> int:
        """Messages being handled right now."""
        return sum(1 for slot in self.slots if not slot.idle.is_set())

    def start(self) -> None:
        """Start one listener per slot (call from inside the event loop)."""
        self.listeners = [asyncio.ensure_future(self._listen(slot)) for slot in self.slots]

    async def _listen(self, slot: _Slot) -> None:
        backoff = iter(RETRY_BACKOFF)
        while not self.stopping:
            await slot.idle.wait()
            try:
                message = await self.receive(slot.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelled()
                self._log_failure(exc)
                await asyncio.sleep(next(backoff, RETRY_BACKOFF[-1]))
                continue
            backoff = iter(RETRY_BACKOFF)
            self._log_recovery()
            if not message.get("type"):
                log.runtime_error(
                    self.component, messages.MESSAGE_WITHOUT_TYPE.format(channel=slot.channel)
                )
                continue
            self.handled += 1
            slot.deliver(message)

    def _log_failure(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._last_error_log >= ERROR_LOG_EVERY:
            self._last_error_log = now
            error = f"{type(exc).__name__}: {exc}"
            log.runtime_warning(self.component, messages.LAYER_RECEIVE_FAILED.format(error=error))

    def _log_recovery(self) -> None:
        if self._failing_since is not None:
            elapsed = time.monotonic() - self._failing_since
            log.runtime(self.component, f"channel layer reachable again after {elapsed:.1f} s")
            self._failing_since = None
            self._last_error_log = 0.0

    def stop_receiving(self) -> None:
        """Take no new messages (a receive in progress is cancelled; nothing is lost)."""
        self.stopping = True
        for task in self.listeners:
            task.cancel()

    async def drain(self, timeout: float) -> bool:
        """Wait up to *timeout* for in-flight handlers, then stop the instances. True if clean."""
        self.stop_receiving()
        if self.listeners:
            await asyncio.gather(*self.listeners, return_exceptions=True)
        waits = [slot.idle.wait() for slot in self.slots]
        clean = True
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), timeout)
            except asyncio.TimeoutError:
                clean = False
        tasks = [slot.task for slot in self.slots if slot.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        await self._stop_reading()
        return clean

    async def _stop_reading(self) -> None:
        """Stop the layer's blocking reader: what it pops for nobody goes back to Redis."""
        try:
            # late import: the reader needs redis-py, which an app on another layer lacks
            from buildpack.runtime.layers.reader import stop_reading
        except ImportError:  # no redis-py: not a Redis layer
            return
        if hasattr(self.layer, "stop_reading") or hasattr(self.layer, "ring_size"):
            try:
                await asyncio.wait_for(stop_reading(self.layer), 10)
            except Exception as exc:
                log.runtime_warning(self.component, messages.READER_STOP_FAILED.format(error=exc))
