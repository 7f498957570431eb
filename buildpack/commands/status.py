"""``channels-buildpack status [--json] [--watch SECONDS] [--top N] [--url URL]``.

A one-off process (``heroku run``, ``heroku ps:exec``, or locally) that reads the channel layer
the app's settings resolve to, with the settings layer applied as on a dyno: one connection per
Redis shard (the Heroku mini plan allows 20 clients for the whole app), closed at the end,
read-only commands only. With the in-memory layer the state lives in the web process: ``--url``
asks that process through its metrics endpoint (``CHANNELS_METRICS_TOKEN``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from buildpack import envvars, messages
from buildpack.commands.status_text import remote, render
from buildpack.messages import ConfigError, LaunchError, StatusError
from buildpack.redact import credential_values, redact_text
from buildpack.runtime.config import active_layer, loading
from buildpack.runtime.config.layer_config import decide
from buildpack.runtime.layers import MEMORY_BACKENDS, RABBITMQ_BACKEND, host_address
from buildpack.runtime.ops import layer_state
from buildpack.runtime.ops.layer_state import LayerState, close_clients, open_clients, queue_layer


def layer_settings(chdir: str | None) -> tuple[dict[str, Any], str | None]:
    """(the default CHANNEL_LAYERS entry, the settings module or None), settings layer applied.

    Loads the app's settings like a launcher does; without a project here (no manage.py, no
    ``DJANGO_SETTINGS_MODULE``), the settings layer decides from the environment alone.
    """
    os.environ.setdefault(envvars.QUIET.name, "1")
    try:
        loading.prepare(chdir, None)
    except LaunchError:
        try:
            decision = decide(os.environ, None)
        except ConfigError as exc:
            raise StatusError(exc.template, **exc.data) from None
        return (decision.config or {}).get("default", {}), None
    settings = loading.load_settings()
    return dict(active_layer.default_layer(settings)), envvars.SETTINGS_MODULE.raw()


def static_channels(root: Path) -> list[str]:
    """Background channels the project routes, read statically (empty when unreadable)."""
    try:
        # late import: the build's analysis (packaging, tomli) only when a project is here
        from buildpack.core.analysis import analyze

        return analyze(root).background_channels
    except Exception:  # a hint only: the keys and heartbeats name the active channels
        return []


async def read_state(
    clients: list[Any], layer: Any, backend: str, hints: list[str], top: int
) -> LayerState:
    """Everything ``status`` shows, read from every shard."""
    now = time.time()
    prefix = layer.prefix
    state = LayerState(time=now, backend=backend, prefix=prefix, shards=len(clients))
    live: list[tuple[int, Any, layer_state.KeyScan]] = []
    for shard, client in enumerate(clients):
        server = await layer_state.server_stat(client, shard, host_address(layer.hosts[shard]))
        state.servers.append(server)
        if server.error is None:
            live.append((shard, client, await layer_state.scan_keys(client, prefix)))
    if not live:
        return state
    if live[0][0] == 0:
        state.processes = await layer_state.heartbeats(clients[0], live[0][2].beats, now)
    names = set(hints).union(*(scan.channels for _, _, scan in live))
    names.update(c for p in state.processes for c in p.get("channels", []))
    reachable = [client for _, client, _ in live]
    state.channels = await layer_state.channel_stats(
        reachable, prefix, names, layer.get_capacity, now
    )
    groups: list[layer_state.GroupStat] = []
    for shard, client, scan in live:
        groups += await layer_state.group_stats(
            client, shard, scan.groups, prefix, int(layer.group_expiry), now
        )
        state.inboxes += len(scan.inboxes)
        state.inbox_messages += await layer_state.inbox_messages(client, scan.inboxes)
    state.group_count = len(groups)
    state.groups = sorted(groups, key=lambda g: (-g.members, g.name))[:top]
    state.warnings = assess(state, pubsub="pubsub" in backend.lower())
    return state


def assess(state: LayerState, *, pubsub: bool = False) -> list[str]:
    """What deserves attention, each with its fix."""
    warnings = []
    for server in state.servers:
        where = f"shard {server.shard} ({server.address})"
        if server.error:
            warnings.append(messages.STATUS_UNREACHABLE.format(where=where, error=server.error))
            continue
        if server.evicting:
            warnings.append(messages.STATUS_EVICTING.format(where=where, policy=server.policy))
        if server.maxclients and server.clients >= 0.8 * server.maxclients:
            warnings.append(
                messages.STATUS_CLIENTS_HIGH.format(
                    where=where, clients=server.clients, limit=server.maxclients
                )
            )
        if server.maxmemory and server.used_memory >= 0.8 * server.maxmemory:
            warnings.append(messages.STATUS_MEMORY_HIGH.format(where=where))
    served = {c for p in state.processes for c in p.get("channels", [])}
    for channel in state.channels:
        if channel.depth and channel.name not in served:
            warnings.append(messages.STATUS_UNSERVED.format(channel=channel.name))
        if channel.capacity_use >= 0.9:
            warnings.append(
                messages.STATUS_NEAR_CAPACITY.format(
                    channel=channel.name, capacity=channel.capacity
                )
            )
    if pubsub:
        warnings.append(messages.STATUS_PUBSUB_GROUPS)
    return warnings


def to_json(state: LayerState) -> dict[str, Any]:
    """The ``--json`` document."""
    data = dataclasses.asdict(state)
    for item, stat in zip(data["channels"], state.channels, strict=True):
        item["capacity_use"] = round(stat.capacity_use, 3)
        item["oldest_age"] = None if stat.oldest_age is None else round(stat.oldest_age, 3)
    for item, server in zip(data["servers"], state.servers, strict=True):
        item["evicting"] = server.evicting
    return data


def _print(text: str) -> None:
    """Print with every secret of the environment masked."""
    sys.stdout.write(redact_text(text, credential_values(os.environ)) + "\n")
    sys.stdout.flush()


async def _watch(
    clients: list[Any], layer: Any, backend: str, hints: list[str], args: argparse.Namespace
) -> int:
    code = 0
    while True:
        state = await read_state(clients, layer, backend, hints, args.top)
        code = 1 if any(s.error for s in state.servers) else 0
        _print(json.dumps(to_json(state), indent=2) if args.json else render(state))
        if not args.watch:
            return code
        await asyncio.sleep(args.watch)


async def _run_redis(config: dict[str, Any], hints: list[str], args: argparse.Namespace) -> int:
    layer = queue_layer(config)
    clients = open_clients(layer)
    try:
        return await _watch(clients, layer, str(config.get("BACKEND")), hints, args)
    finally:
        await close_clients(clients)


def main(args: argparse.Namespace) -> int:
    """Entry point; returns the exit code (1 when a shard is unreachable)."""
    try:
        if args.url:
            return remote(args.url, args.json, args.watch)
        config, module = layer_settings(args.chdir)
        source = f"settings {module}" if module else "the environment (no Django project here)"
        backend = str(config.get("BACKEND") or "none")
        if backend in MEMORY_BACKENDS or backend == "none":
            _print(messages.STATUS_MEMORY_LAYER.format(source=source))
            return 0
        if backend == RABBITMQ_BACKEND or "redis" not in backend.lower():
            _print(messages.STATUS_NOT_REDIS.format(backend=backend, source=source))
            return 0
        hints = static_channels(Path.cwd()) if module else []
        return asyncio.run(_run_redis(config, hints, args))
    except StatusError as exc:
        sys.stderr.write(f"channels-buildpack status: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 0
