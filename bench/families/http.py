"""HTTP: requests/s and p50/p99 latency on ``GET /health/`` (a sync Django view).

Closed-loop keep-alive load (wrk, else the Python generator) with a fixed number of
connections against: our launcher with 1 process, plain Daphne, our launcher with
WEB_CONCURRENCY=2, and the peers on the same app in the same slug: gunicorn's native ASGI
worker (``-k asgi``, gunicorn >= 24; 1 worker), uvicorn pure-Python (h11 + asyncio) and,
in the full run, uvicorn with httptools + uvloop. All with REDIS_URL (scaled mode).
The full run adds ``GET /async/`` (an async view: no hop to Django's sync thread) for ours
vs Daphne, which separates the server's cost from the sync-view cost every server pays.
"""

from __future__ import annotations

from typing import Any

from bench.common import FamilyResult, say
from bench.load import http_load, merge_runs
from bench.stack import Context

NAME = "http"
TITLE = "HTTP: GET /health/ throughput and latency"


def _load(ctx: Context, kind: str, processes: int = 1, path: str = "/health/") -> dict[str, Any]:
    server = ctx.start_server(kind, processes=processes)
    try:
        say(f"http: {server.label} {path}")
        data = http_load(ctx, server, path=path)
        if server.balance:  # WEB_CONCURRENCY > 1: the last mid-load sample (warm-up excluded)
            data["connections_per_process"] = server.balance[-1]
        return {"label": f"{server.label} {path}", **data}
    finally:
        server.stop(2)


def _one(ctx: Context, result: FamilyResult, key: str, kind: str, processes: int = 1,
         path: str = "/health/") -> None:  # fmt: skip
    try:
        result.measure(key, kind=kind, processes=processes, **_load(ctx, kind, processes, path))
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
            result.measure(key, kind=kind, processes=1, **merge_runs(runs[key], "rps"))


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
    if ctx.profile.name == "full":
        _one(ctx, result, "ours_1_async", "ours", path="/async/")
        _one(ctx, result, "daphne_async", "daphne", path="/async/")
    comparisons = [
        ("ours 1 proc vs plain daphne", "ours_1", "daphne"),
        ("ours WEB_CONCURRENCY=2 vs 1", "ours_2", "ours_1"),
        *[(f"ours 1 proc vs {p}", "ours_1", p) for p in ctx.profile.peers],
        ("ours vs daphne, async view", "ours_1_async", "daphne_async"),
    ]
    for label, subject, baseline in comparisons:
        if subject not in result.measurements or baseline not in result.measurements:
            continue
        result.ratio(label, "req/s", subject, baseline, key="rps", unit="req/s")
        result.ratio(
            label, "p50 latency", subject, baseline, key="p50_ms", better="lower", unit="ms"
        )
        result.ratio(
            label, "p99 latency", subject, baseline, key="p99_ms", better="lower", unit="ms"
        )
    result.notes.append(
        "Access logs: ours and Daphne write one line per request to stdout (Daphne's default), "
        "uvicorn too; gunicorn logs no access lines by default."
    )
