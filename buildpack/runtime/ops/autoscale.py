"""Queue numbers for worker autoscalers, served by the web process (any ASGI engine).

:func:`wrap` puts :class:`AutoscaleEndpoint` around the application when a token is set, and
returns the application untouched otherwise (off by default, nothing added to a request).

* ``GET /.channels-buildpack/metrics`` with ``Authorization: Bearer $CHANNELS_METRICS_TOKEN``:
  depth, oldest-message age and capacity use per background channel and per worker process
  type, as JSON. Any poller (scripts, ``channels-buildpack status --url``) can read it.
* ``GET /hirefire/$HIREFIRE_TOKEN/info``: HireFire's job-queue format, ``[{"name": "worker",
  "value": N}]`` per worker process type of the Procfile; ``value`` is the queue depth, or with
  ``CHANNELS_HIREFIRE_METRIC=latency`` the oldest message's age in seconds.

Tokens are compared in constant time; a wrong one gets 401 (metrics) or 404 (HireFire), and the
response holds numbers and names only. The HireFire token is part of its URL, so
:func:`masked_access_log` hides it from the access log.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from buildpack import envvars
from buildpack.runtime.ops import layer_state
from buildpack.runtime.ops.background_channels import discover_channels, worker_process_types
from buildpack.runtime.ops.heartbeat import redis_layer

METRICS_PATH = "/.channels-buildpack/metrics"
HIREFIRE_PATH = re.compile(r"^/hirefire/([^/]*)/info/?$")
READ_TIMEOUT = 5.0
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"must-revalidate, private, max-age=0"),
]


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison; an empty expected token never matches."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def wrap(application: Any, layer: Any, environ: Mapping[str, str] | None = None) -> Any:
    """The application behind the endpoint when a token is set, else the application itself."""
    token = envvars.METRICS_TOKEN.value(environ)
    hirefire = envvars.HIREFIRE_TOKEN.value(environ)
    if not token and not hirefire:
        return application
    latency = envvars.hirefire_latency(environ)
    return AutoscaleEndpoint(application, layer, token, hirefire, latency=latency)


async def channel_numbers(layer: Any, channels: list[str]) -> list[layer_state.ChannelStat]:
    """The channels' numbers through the layer's own pool (Redis) or memory (in-memory)."""
    target = redis_layer(layer)
    if target is not None:
        clients = [target.connection(i) for i in range(target.ring_size)]
        return await layer_state.channel_stats(
            clients, target.prefix, channels, target.get_capacity
        )
    if hasattr(layer, "channels") and hasattr(layer, "get_capacity"):
        return layer_state.memory_channel_stats(layer, channels, time.time())
    return []


class AutoscaleEndpoint:
    """ASGI middleware answering the two metrics paths; everything else goes to the app."""

    def __init__(
        self, application: Any, layer: Any, token: str, hirefire: str, *, latency: bool = False
    ) -> None:
        self.application = application
        self.layer = layer
        self.token = token
        self.hirefire = hirefire
        self.latency = latency
        self._channels: list[str] | None = None
        self._types: dict[str, list[str]] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            path = str(scope.get("path", ""))
            if path == METRICS_PATH and self.token:
                await self._metrics(scope, send)
                return
            match = HIREFIRE_PATH.match(path)
            if match and self.hirefire:
                await self._hirefire(match.group(1), send)
                return
        await self.application(scope, receive, send)

    def channels(self) -> list[str]:
        """Background channels of the wrapped application (found once)."""
        if self._channels is None:
            self._channels = discover_channels(self.application)
        return self._channels

    def process_types(self) -> dict[str, list[str]]:
        """Worker process types and their channels (read once)."""
        if self._types is None:
            self._types = worker_process_types(self.channels())
        return self._types

    async def numbers(self) -> dict[str, Any]:
        """Per channel and per worker process type: depth and oldest-message age."""
        stats = await asyncio.wait_for(channel_numbers(self.layer, self.channels()), READ_TIMEOUT)
        by_name = {stat.name: stat for stat in stats}
        processes = {}
        for name, served in self.process_types().items():
            mine = [by_name[c] for c in served if c in by_name]
            ages = [s.oldest_age for s in mine if s.oldest_age is not None]
            processes[name] = {
                "depth": sum(s.depth for s in mine),
                "oldest_age": round(max(ages), 3) if ages else 0.0,
            }
        return {
            "time": round(time.time(), 3),
            "channels": {stat.name: stat.numbers() for stat in stats},
            "processes": processes,
        }

    async def _metrics(self, scope: dict[str, Any], send: Any) -> None:
        given = _bearer(scope)
        if not token_matches(given, self.token):
            await _respond(send, 401, {"error": "unauthorized"}, [(b"www-authenticate", b"Bearer")])
            return
        await self._answer(send, lambda numbers: numbers)

    async def _hirefire(self, given: str, send: Any) -> None:
        if not token_matches(given, self.hirefire):
            await _respond(send, 404, {"error": "not found"})
            return

        def value(process: dict[str, Any]) -> int:  # HireFire reads whole numbers
            return math.ceil(process["oldest_age"]) if self.latency else int(process["depth"])

        def hirefire(numbers: dict[str, Any]) -> Any:
            return [{"name": n, "value": value(v)} for n, v in numbers["processes"].items()]

        await self._answer(send, hirefire)

    async def _answer(self, send: Any, shape: Callable[[dict[str, Any]], Any]) -> None:
        try:
            numbers = await self.numbers()
        except Exception:  # Redis down or slow: say so, without details (no data but numbers)
            await _respond(send, 503, {"error": "channel layer unavailable"})
            return
        await _respond(send, 200, shape(numbers))


def _bearer(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return ""


async def _respond(
    send: Any, status: int, body: Any, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [*_HEADERS, (b"content-length", str(len(payload)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def mask_path(path: str) -> str:
    """``/hirefire/<token>/info`` -> ``/hirefire/***/info`` (other paths unchanged)."""
    return HIREFIRE_PATH.sub("/hirefire/***/info", path)


def masked_access_log(logger: Callable[[str, str, dict[str, Any]], None]) -> Any:
    """Wrap a Daphne action logger so the HireFire token never reaches the access log."""

    def log(protocol: str, action: str, details: dict[str, Any]) -> None:
        path = details.get("path")
        if isinstance(path, str) and path.startswith("/hirefire/"):
            details = {**details, "path": mask_path(path)}
        logger(protocol, action, details)

    return log


def masked_access_record(record: logging.LogRecord) -> bool:
    """A logging filter for uvicorn's access lines (args: client, method, path, ...): the
    HireFire token never reaches the log. Keeps every record."""
    args = record.args if isinstance(record.args, tuple) else ()
    path = args[2] if len(args) > 2 else None
    if isinstance(path, str) and path.startswith("/hirefire/"):
        record.args = (*args[:2], mask_path(path), *args[3:])
    return True
