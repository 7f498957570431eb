"""WebSocket echo: messages/s and round-trip p50/p99 on ``/ws/echo/``.

N client processes x M sockets (``bench.clients.ws_echo``), each socket sending a 32-byte
text frame and awaiting the echo in a loop for T seconds. Servers as in the HTTP family:
ours 1 process vs plain Daphne, ours WEB_CONCURRENCY=2 vs 1, and the peers (gunicorn
``-k asgi``, uvicorn) on the same app. The consumer is a Channels ``AsyncWebsocketConsumer``
with the Redis layer configured (scaled mode) but not used by the echo itself.
"""

from __future__ import annotations

from typing import Any

from bench.common import FamilyResult, say
from bench.load import merge_runs, ws_load
from bench.stack import Context

NAME = "ws"
TITLE = "WebSocket echo throughput and latency"


def _load(ctx: Context, kind: str, processes: int = 1) -> dict[str, Any]:
    server = ctx.start_server(kind, processes=processes)
    try:
        say(f"ws: {server.label}")
        data = ws_load(ctx, server, mode="echo")
        if server.balance:  # WEB_CONCURRENCY > 1: mid-load sample
            data["connections_per_process"] = server.balance[-1]
        return {"label": server.label, **data}
    finally:
        server.stop(2)


def _one(ctx: Context, result: FamilyResult, key: str, kind: str, processes: int = 1) -> None:
    try:
        result.measure(key, kind=kind, processes=processes, **_load(ctx, kind, processes))
    except Exception as exc:
        result.errors.append(f"{key}: {type(exc).__name__}: {exc}")


def _interleaved(ctx: Context, result: FamilyResult) -> None:
    """Ours vs plain Daphne, ``repeats`` alternating runs each, medians."""
    runs: dict[str, list[dict[str, Any]]] = {"ours_1": [], "daphne": []}
    pairs = [("ours_1", "ours"), ("daphne", "daphne")]
    try:
        for rep in range(ctx.profile.repeats):
            for key, kind in pairs if rep % 2 == 0 else pairs[::-1]:
                runs[key].append(_load(ctx, kind))
    except Exception as exc:
        result.errors.append(f"ours/daphne: {type(exc).__name__}: {exc}")
    for key, kind in pairs:
        if runs[key]:
            result.measure(key, kind=kind, processes=1, **merge_runs(runs[key], "msgs_per_s"))


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    _interleaved(ctx, result)
    _one(ctx, result, "ours_2", "ours", processes=2)
    spread = result.measurements.get("ours_2", {}).get("connections_per_process")
    if spread:
        result.notes.append(
            f"WEB_CONCURRENCY=2: the load's connections were split {spread} between the two "
            "processes (mid-load sample). Both accept on one shared socket and Twisted accepts "
            "up to 100 connections per wake-up, so a burst of new connections can land on one "
            "process; the 2-vs-1 ratio varies from run to run with that split."
        )
    for peer in ctx.profile.peers:
        _one(ctx, result, peer, peer)
    comparisons = [
        ("ours 1 proc vs plain daphne", "ours_1", "daphne"),
        ("ours WEB_CONCURRENCY=2 vs 1", "ours_2", "ours_1"),
        *[(f"ours 1 proc vs {p}", "ours_1", p) for p in ctx.profile.peers],
    ]
    for label, subject, baseline in comparisons:
        if subject not in result.measurements or baseline not in result.measurements:
            continue
        result.ratio(label, "msgs/s", subject, baseline, key="msgs_per_s", unit="msg/s")
        result.ratio(
            label, "p50 latency", subject, baseline, key="p50_ms", better="lower", unit="ms"
        )
        result.ratio(
            label, "p99 latency", subject, baseline, key="p99_ms", better="lower", unit="ms"
        )
