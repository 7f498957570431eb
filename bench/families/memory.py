"""Memory: idle RSS of the web process and KB per idle WebSocket.

Our launcher (1 process) on each engine (Daphne, uvicorn) and plain Daphne, scaled mode
(REDIS_URL). Idle = after one
HTTP request and one WebSocket opened and closed. Then RSS (psutil, whole process tree)
with 0, 1,000 and 5,000 idle sockets on ``/ws/echo/`` held by client processes (at most
1,000 sockets each, file-descriptor limits raised). KB/socket is the least-squares slope
of RSS over the socket count; sockets per 512 MB dyno = (512 MiB - idle RSS) / KB/socket.
Also: the RSS of a WEB_CONCURRENCY=2 dyno (supervisor + 2 processes) against twice one
process.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bench.common import FamilyResult, say
from bench.stack import Context, Server
from tests.support.ws import http_get, ws_connect

NAME = "memory"
TITLE = "Memory: idle RSS and KB per idle WebSocket"
DYNO_BYTES = 512 * 1024 * 1024
PER_CLIENT = 1000


def _settle(server: Server) -> int:
    """RSS once it stops moving (sampled every 0.25 s, at most ~3 s)."""
    last = server.rss()
    for _ in range(12):
        time.sleep(0.25)
        now = server.rss()
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


def _warm(server: Server) -> None:
    http_get(server.http + "/health/")

    async def one() -> None:
        conn = await ws_connect(server.ws + "/ws/echo/")
        await conn.send("hi")
        await conn.recv()
        await conn.close()

    asyncio.run(one())


def _slope(points: list[tuple[int, int]]) -> float:
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return sxy / sxx if sxx else float("nan")


def measure_server(ctx: Context, kind: str) -> dict[str, Any]:
    server = ctx.start_server(kind)
    scratch = ctx.scratch(f"mem-{kind}")
    clients = []
    try:
        _warm(server)
        idle = _settle(server)
        points = [(0, idle)]
        held = 0
        for target in ctx.profile.memory_steps[1:]:
            todo = target - held
            batch = []
            while todo > 0:
                count = min(PER_CLIENT, todo)
                index = len(clients)
                ready = scratch / f"ready-{index}"
                clients.append(
                    ctx.client(
                        "ws_hold", "--url", f"{server.ws}/ws/echo/", "--origin", server.origin,
                        "--count", str(count), "--mode", "hold", "--ready-file", str(ready),
                        "--stop-file", str(scratch / "stop"),
                        "--out", str(scratch / f"out-{index}.json"), "--max-seconds", "600",
                        name=f"mem-client-{index}",
                    )
                )  # fmt: skip
                batch.append((clients[-1], ready))
                todo -= count
            opened = 0
            for proc, ready in batch:
                deadline = time.monotonic() + 180
                while not ready.exists():
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"memory client not ready:\n{proc.tail(20)}")
                    time.sleep(0.05)
                info = json.loads(ready.read_text())
                opened += info["opened"]
                if info["failed"]:
                    raise RuntimeError(f"{info['failed']} sockets failed: {info['reasons']}")
            held += opened
            rss = _settle(server)
            points.append((held, rss))
            say(f"memory: {server.label}: {held} sockets, RSS {rss / 2**20:.1f} MB")
        slope = _slope(points)
        return {
            "label": server.label,
            "idle_rss_mb": idle / 2**20,
            "rss_mb_by_sockets": {str(n): r / 2**20 for n, r in points},
            "kb_per_socket": slope / 1024,
            "sockets_per_512mb": (DYNO_BYTES - idle) / slope if slope > 0 else float("nan"),
        }
    finally:
        (scratch / "stop").write_text("stop")
        for proc in clients:
            try:
                proc.wait(30)
            finally:
                proc.stop(5)
        server.stop(2)


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    for kind in ("ours", "ours_uvicorn", "daphne"):
        try:
            result.measure(kind, **measure_server(ctx, kind))
        except Exception as exc:
            result.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
    for kind, engine in (("ours", "daphne"), ("ours_uvicorn", "uvicorn")):
        name = f"ours ({engine}) vs daphne"
        result.ratio(f"{name}: idle RSS", "idle RSS", kind, "daphne", key="idle_rss_mb",
                     better="lower", unit="MB")  # fmt: skip
        result.ratio(f"{name}: KB per idle socket", "KB/socket", kind, "daphne",
                     key="kb_per_socket", better="lower", unit="KB")  # fmt: skip
        result.ratio(f"{name}: sockets per 512 MB dyno", "sockets/dyno", kind, "daphne",
                     key="sockets_per_512mb", unit="sockets")  # fmt: skip
    # a WEB_CONCURRENCY=2 dyno: supervisor + 2 children vs twice one process
    server = ctx.start_server("ours", processes=2)
    try:
        _warm(server)
        _settle(server)
        by_pid = server.rss_by_process()
        children = set(server.pids)
        supervisor = sum(r for pid, r in by_pid.items() if pid not in children)
        result.measure(
            "ours_x2",
            label="ours WEB_CONCURRENCY=2 (supervisor + 2 processes)",
            idle_rss_mb=sum(by_pid.values()) / 2**20,
            supervisor_rss_mb=supervisor / 2**20,
            process_rss_mb=[r / 2**20 for pid, r in by_pid.items() if pid in children],
        )
    finally:
        server.stop(2)
    if "ours" in result.measurements:
        result.measure("ours_twice", label="2 x ours 1-process idle RSS",
                       idle_rss_mb=2 * result.measurements["ours"]["idle_rss_mb"])  # fmt: skip
        result.ratio("WEB_CONCURRENCY=2 dyno vs 2 x one process", "idle RSS", "ours_x2",
                     "ours_twice", key="idle_rss_mb", better="lower", unit="MB")  # fmt: skip
