"""Single-process mode (no Redis: our in-memory layer) vs scaled mode (Redis core layer).

The same web dyno (our launcher, 1 process) with and without REDIS_URL, under the same
loads: HTTP ``/health/``; WebSocket echo; WebSocket group round trip (each socket in its
own group, every message a ``group_send`` through the layer); and a fan-out to
``single_fanout_sockets`` sockets in one group on this one process.
"""

from __future__ import annotations

from bench.common import FamilyResult, say
from bench.families.fanout import ws_fanout
from bench.load import http_load, ws_load
from bench.stack import Context

NAME = "single"
TITLE = "Single-process mode (in-memory layer) vs scaled mode (Redis)"


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    for mode, redis in (("single", False), ("scaled", True)):
        ctx.flush_redis()
        server = ctx.start_server("ours", redis=redis)
        try:
            say(f"single: {mode} mode")
            result.measure(f"{mode}_http", label=f"{mode}: HTTP /health/", **http_load(ctx, server))
            result.measure(
                f"{mode}_echo", label=f"{mode}: WS echo", **ws_load(ctx, server, mode="echo")
            )
            result.measure(f"{mode}_group", label=f"{mode}: WS group round trip",
                           **ws_load(ctx, server, mode="group"))  # fmt: skip
            data = ws_fanout(
                ctx, [server], ctx.profile.single_fanout_sockets, ctx.profile.single_fanout_sends,
                procs_per_server=2 if ctx.profile.single_fanout_sockets >= 100 else 1,
            )  # fmt: skip
            result.measure(f"{mode}_fanout", label=f"{mode}: fan-out in one process", **data)
        except Exception as exc:
            result.errors.append(f"{mode}: {type(exc).__name__}: {exc}")
        finally:
            server.stop(2)
    for load, metric, key, better, unit in (
        ("http", "req/s", "rps", "higher", "req/s"),
        ("http", "p99 latency", "p99_ms", "lower", "ms"),
        ("echo", "msgs/s", "msgs_per_s", "higher", "msg/s"),
        ("echo", "p99 latency", "p99_ms", "lower", "ms"),
        ("group", "msgs/s", "msgs_per_s", "higher", "msg/s"),
        ("group", "p99 latency", "p99_ms", "lower", "ms"),
        ("fanout", "p50 latency", "p50_ms", "lower", "ms"),
        ("fanout", "p99 latency", "p99_ms", "lower", "ms"),
    ):
        result.ratio(f"single vs scaled: {load}", metric, f"single_{load}", f"scaled_{load}",
                     key=key, better=better, unit=unit)  # fmt: skip
