"""``channels-buildpack worker [module:attr] [--only GLOB] [--exclude GLOB] [--concurrency N]``.

Serves the background channels the application's ``ChannelNameRouter`` declares, found at
start. Stays up (idle, one clear log line) when there is nothing to do, because local
process managers stop every process when one exits. SIGTERM/SIGINT: stop receiving, let
in-flight handlers finish (``CHANNELS_SHUTDOWN_TIMEOUT``), exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

from buildpack import envvars, log, messages
from buildpack.messages import LaunchError
from buildpack.runtime.config import active_layer, loading
from buildpack.runtime.launchers import bootstrap
from buildpack.runtime.launchers.background import ChannelWorker
from buildpack.runtime.layers import STOCK_PUBSUB_BACKEND
from buildpack.runtime.ops import heartbeat
from buildpack.runtime.ops.background_channels import discover_channels, select_channels

COMPONENT = "worker"


def _concurrency(value: int | None) -> int:
    return max(1, value) if value else envvars.worker_concurrency()


def main(args: argparse.Namespace) -> int:
    """Entry point; returns the exit code."""
    try:
        loading.prepare(args.chdir, args.app)
        settings = loading.load_settings()
        app_path = bootstrap.app_path_or_setting(args.app, "worker")
        application = bootstrap.import_application(app_path)
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1
    available = discover_channels(application)
    channels = select_channels(available, args.only, args.exclude)
    return asyncio.run(_run(application, app_path, settings, available, channels, args))


async def _wait_for_signal() -> str:
    loop = asyncio.get_running_loop()
    received: asyncio.Future[str] = loop.create_future()

    def on_signal(signum: int) -> None:
        if not received.done():
            received.set_result(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    return await received


async def _run(
    application: Any,
    app_path: str,
    settings: Any,
    available: list[str],
    channels: list[str],
    args: argparse.Namespace,
) -> int:
    stop = asyncio.ensure_future(_wait_for_signal())
    if active_layer.single_process(settings):
        log.runtime(
            COMPONENT, messages.WORKER_IDLE_NO_REDIS.format(channels=", ".join(available) or "none")
        )
        return _stopped_idle(await stop)
    if not channels:
        filtered = f"; --only/--exclude left none of {', '.join(available)}" if available else ""
        log.runtime(
            COMPONENT, messages.WORKER_IDLE_NO_CHANNELS.format(app=app_path, filtered=filtered)
        )
        return _stopped_idle(await stop)

    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    concurrency = _concurrency(args.concurrency)
    try:
        await bootstrap.probe_layer(layer, dyno_processes=1, worker=True)
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1
    if active_layer.backend(settings) == STOCK_PUBSUB_BACKEND:
        log.runtime_warning(COMPONENT, messages.WORKER_PUBSUB)
    worker = ChannelWorker(application, channels, layer, concurrency=concurrency)
    worker.start()
    beat = heartbeat.start(
        layer, COMPONENT, channels, stats=lambda: {"busy": worker.busy, "handled": worker.handled}
    )
    log.runtime(
        COMPONENT,
        f"serving {', '.join(channels)} ({worker.concurrency} consumer(s) per channel) | "
        f"layer {active_layer.describe(settings)} | pid {os.getpid()}",
    )
    reason = await stop
    if beat is not None:
        await beat.stop()  # status stops listing this process as it stops taking messages
    timeout = envvars.shutdown_timeout()
    log.runtime(
        COMPONENT,
        f"stopping ({reason}): no new messages, waiting for {worker.busy} in flight "
        f"(deadline {timeout:g} s)",
    )
    clean = await worker.drain(timeout)
    log.runtime(
        COMPONENT,
        f"stopped {'cleanly' if clean else 'at the deadline'} after {worker.handled} message(s)",
    )
    return 0


def _stopped_idle(reason: str) -> int:
    log.runtime(COMPONENT, f"stopping ({reason})")
    return 0
