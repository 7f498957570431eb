"""WebSocket echo: messages/s and round-trip p50/p99 on ``/ws/echo/``.

N client processes x M sockets (``bench.clients.ws_echo``), each socket sending a 32-byte
text frame and awaiting the echo in a loop for T seconds. Servers as in the HTTP family:
ours on each engine (1 process, and WEB_CONCURRENCY=2), plain Daphne, and the peers
(gunicorn ``-k asgi``, uvicorn, uvicorn with httptools + uvloop) on the same app. The
consumer is a Channels ``AsyncWebsocketConsumer`` with the Redis layer configured (scaled
mode) but not used by the echo itself.
"""

from __future__ import annotations

from bench.common import FamilyResult
from bench.compare import add_ratios, measure_servers
from bench.load import ws_load
from bench.stack import Context

NAME = "ws"
TITLE = "WebSocket echo throughput and latency"


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    comparisons = measure_servers(ctx, result, lambda server: ws_load(ctx, server), "msgs_per_s")
    add_ratios(result, comparisons, "msgs/s", "msgs_per_s", "msg/s")
