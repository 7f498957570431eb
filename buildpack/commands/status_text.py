"""``status`` for people: aligned tables from a :class:`LayerState`; ``--url`` through the web
process's metrics endpoint."""

from __future__ import annotations

import datetime
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from buildpack import envvars, messages
from buildpack.messages import StatusError
from buildpack.redact import redact_url
from buildpack.runtime.ops.autoscale import METRICS_PATH
from buildpack.runtime.ops.layer_state import ChannelStat, LayerState, ServerStat

REMOTE_TIMEOUT = 10.0


def seconds(value: float | None) -> str:
    """``-``, ``850 ms``, ``12.3 s``, ``4 min``, ``3 h``."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.0f} h"


def size(value: int) -> str:
    """Bytes as ``512 KB``, ``1.2 MB``..."""
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit in ("B", "KB") else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers, two spaces apart, indented."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([first, *rest]).rstrip()

    return [line(header), *(line(r) for r in rows)]


def channel_rows(channels: list[ChannelStat], shards: int) -> list[str]:
    """The background channels table."""
    header = ["channel", "depth", "oldest", "capacity used"]
    if shards > 1:
        header.append("per shard")
    rows = []
    for stat in channels:
        row = [
            stat.name,
            str(stat.depth),
            seconds(stat.oldest_age),
            f"{stat.capacity_use:.0%} of {stat.capacity}",
        ]
        if shards > 1:
            row.append(" + ".join(str(d) for d in stat.per_shard))
        rows.append(row)
    return table(header, rows) if rows else ["  none found (no keys, heartbeats or routes)"]


def _process_line(beat: dict[str, Any], now: float) -> list[str]:
    channels = ", ".join(beat.get("channels") or []) or "-"
    extra = []
    if "handled" in beat:
        extra.append(f"handled {beat['handled']}, busy {beat.get('busy', 0)}")
    up = seconds(max(0.0, now - float(beat.get("started", now))))
    return [
        str(beat.get("dyno", "?")),
        str(beat.get("pid", "?")),
        str(beat.get("role", "?")),
        channels,
        f"{seconds(beat.get('seen'))} ago",
        up,
        "; ".join(extra),
    ]


def _server_lines(server: ServerStat) -> list[str]:
    head = f"  shard {server.shard}  {server.address}"
    if server.error:
        return [f"{head}  UNREACHABLE ({server.error})"]
    limit = f"{server.maxclients}" if server.maxclients else "?"
    share = f" ({server.clients / server.maxclients:.0%})" if server.maxclients else ""
    memory = size(server.used_memory)
    cap = f" of {size(server.maxmemory)}" if server.maxmemory else " (no maxmemory limit)"
    policy = server.policy + (" (EVICTS the layer's keys)" if server.evicting else "")
    return [
        f"{head}  Redis {server.version}",
        f"    clients  {server.clients} of {limit}{share}, {server.blocked_clients} blocked "
        "(idle readers)",
        f"    memory   {memory}{cap}, policy {policy}",
    ]


def render(state: LayerState) -> str:
    """The human-readable report."""
    when = datetime.datetime.fromtimestamp(state.time, datetime.timezone.utc)
    shards = f"{state.shards} shard{'s' if state.shards != 1 else ''}"
    lines = [
        f"channels-buildpack status  {when:%Y-%m-%d %H:%M:%S} UTC",
        f"layer {state.backend} ({shards}, prefix {state.prefix!r})",
        "",
        "Background channels",
        *channel_rows(state.channels, state.shards),
        "",
        f"Groups: {state.group_count}" + (f", top {len(state.groups)}:" if state.groups else ""),
    ]
    rows = [[g.name, str(g.members), str(g.stale), seconds(g.expires_in)] for g in state.groups]
    if rows:
        lines += table(["group", "members", "stale", "expires in"], rows)
    lines.append(
        f"Process inboxes: {state.inboxes} channel(s), {state.inbox_messages} message(s) waiting"
    )
    lines += ["", f"Processes (heartbeats): {len(state.processes)}"]
    if state.processes:
        header = ["dyno", "pid", "role", "channels", "seen", "up", ""]
        lines += table(header, [_process_line(b, state.time) for b in state.processes])
    lines += ["", "Redis"]
    for server in state.servers:
        lines += _server_lines(server)
    if state.warnings:
        lines += ["", "Warnings"] + [f"  ! {w}" for w in state.warnings]
    return "\n".join(lines)


def fetch_remote(url: str, token: str) -> dict[str, Any]:
    """The web process's metrics document (the token only ever goes into the header)."""
    target = url.rstrip("/") + METRICS_PATH
    if "://" not in target:
        target = "https://" + target
    request = urllib.request.Request(target, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=REMOTE_TIMEOUT) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        problem = {401: messages.STATUS_REMOTE_REFUSED, 404: messages.STATUS_REMOTE_OFF}.get(
            exc.code, messages.STATUS_REMOTE_HTTP
        )
        raise StatusError(problem, url=redact_url(url), code=exc.code) from None
    except (OSError, ValueError) as exc:
        raise StatusError(
            messages.STATUS_REMOTE_UNREADABLE, url=redact_url(target), error=exc
        ) from None


def render_remote(url: str, data: dict[str, Any]) -> str:
    """The channels table from an endpoint document."""
    stats = [
        ChannelStat(
            name,
            depth=int(item.get("depth", 0)),
            oldest_age=item.get("oldest_age"),
            capacity=int(item.get("capacity", 100)),
            per_shard=[round(float(item.get("capacity_use", 0)) * int(item.get("capacity", 100)))],
        )
        for name, item in sorted((data.get("channels") or {}).items())
    ]
    stamp = float(data.get("time", time.time()))
    when = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc)
    lines = [
        f"channels-buildpack status  {when:%Y-%m-%d %H:%M:%S} UTC",
        f"from the web process at {redact_url(url)}",
        "",
        "Background channels",
        *channel_rows(stats, 1),
        "",
        "Worker process types",
        *table(
            ["process type", "depth", "oldest"],
            [
                [n, str(v.get("depth", 0)), seconds(v.get("oldest_age"))]
                for n, v in sorted((data.get("processes") or {}).items())
            ],
        ),
        "",
        messages.STATUS_REMOTE_LIMITS,
    ]
    return "\n".join(lines)


def remote(url: str, as_json: bool, watch: float | None) -> int:
    """``status --url``: read the web process's endpoint (``CHANNELS_METRICS_TOKEN``)."""
    token = envvars.METRICS_TOKEN.value()
    if not token:
        sys.stderr.write(f"channels-buildpack status: {messages.STATUS_REMOTE_NO_TOKEN}\n")
        return 1
    while True:
        try:
            data = fetch_remote(url, token)
        except StatusError as exc:
            sys.stderr.write(f"channels-buildpack status: {exc}\n")
            return 1
        text = json.dumps(data, indent=2) if as_json else render_remote(url, data)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        if not watch:
            return 0
        time.sleep(watch)
