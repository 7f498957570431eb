"""HTTP: requests/s and p50/p99 latency on ``GET /health/`` (a sync Django view).

Closed-loop keep-alive load (wrk, else the Python generator) with a fixed number of
connections against: our launcher on each engine (Daphne, the default, and
CHANNELS_WEB_SERVER=uvicorn) with 1 process and with WEB_CONCURRENCY=2, plain Daphne, and
the peers on the same app in the same slug: gunicorn's native ASGI worker (``-k asgi``,
gunicorn >= 24; 1 worker), uvicorn pure-Python (h11 + asyncio) and, in the full run,
uvicorn with httptools + uvloop. All with REDIS_URL (scaled mode). The full run adds
``GET /async/`` (an async view: no hop to Django's sync thread) for ours vs Daphne, which
separates the server's cost from the sync-view cost every server pays.
"""

from __future__ import annotations

from bench.common import FamilyResult
from bench.compare import Load, add_ratios, measure_server, measure_servers
from bench.load import http_load
from bench.stack import Context

NAME = "http"
TITLE = "HTTP: GET /health/ throughput and latency"


def _get(ctx: Context, path: str) -> Load:
    return lambda server: http_load(ctx, server, path=path)


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    comparisons = measure_servers(ctx, result, _get(ctx, "/health/"), "rps", " /health/")
    if ctx.profile.name == "full":
        servers = (("ours_1_async", "ours"), ("ours_uvicorn_1_async", "ours_uvicorn"))
        for key, kind in (*servers, ("daphne_async", "daphne")):
            measure_server(ctx, result, key, kind, _get(ctx, "/async/"), suffix=" /async/")
        comparisons.append(("ours (daphne) vs daphne, async view", "ours_1_async", "daphne_async"))
        comparisons.append(
            ("ours (uvicorn) vs daphne, async view", "ours_uvicorn_1_async", "daphne_async")
        )
    add_ratios(result, comparisons, "req/s", "rps", "req/s")
    result.notes.append(
        "Access logs: ours and Daphne write one line per request to stdout (Daphne's default), "
        "uvicorn too; gunicorn logs no access lines by default."
    )
