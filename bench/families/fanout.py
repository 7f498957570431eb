"""Group fan-out: one ``group_send`` to 1,000 sockets on 2 web dynos, time until all have it.

Two web dynos (web.1 and web.2, one process each) share a Redis; client processes
(``bench.clients.ws_hold --mode fanout``) hold half of the sockets on each dyno, all in
group ``fan``. A trigger socket on web.1 sends ``{"group": "fan", "text": ID}``; its
consumer calls ``group_send``. Each client process reports (UDP, monotonic clock) when ID
has reached every one of its sockets; the latency of a send is the last of those minus the
moment the trigger frame was sent. Sends go one at a time (the next after the previous
reached everyone). Compared: our default core layer, the pub/sub layer
(``CHANNELS_LAYER=pubsub``), and the floor: a raw Redis ``PUBLISH`` to 2 subscriber
processes (redis-py, no Channels, no WebSockets), measured the same way in the same run.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from websockets.asyncio.client import connect

from bench.common import CpuWindow, FamilyResult, client_summary, percentile, say
from bench.stack import Context, Server, stop_servers
from tests.support.procs import ManagedProcess

NAME = "fanout"
TITLE = "Group fan-out to 1,000 sockets on 2 web processes"
SEND_TIMEOUT = 10.0
WARMUP_SENDS = 3


class _Collector(asyncio.DatagramProtocol):
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.reports: dict[str, list[tuple[float, float]]] = {}
        self.events: dict[str, asyncio.Event] = {}

    def event(self, key: str) -> asyncio.Event:
        return self.events.setdefault(key, asyncio.Event())

    def datagram_received(self, data: bytes, addr: Any) -> None:
        _client, key, first, last = data.decode().split()
        got = self.reports.setdefault(key, [])
        got.append((float(first), float(last)))
        if len(got) >= self.expected:
            self.event(key).set()


def _wait_ready(
    procs: list[ManagedProcess], files: list[Any], timeout: float
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    out = []
    for proc, ready in zip(procs, files, strict=True):
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fan-out client not ready:\n{proc.tail(30)}")
            time.sleep(0.02)
        out.append(json.loads(ready.read_text()))
    return out


class _WsTrigger:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn: Any = None

    async def open(self, udp_port: int) -> None:
        self.conn = await connect(
            f"{self.server.ws}/ws/group/ctl/", origin=self.server.origin, compression=None,
            proxy=None, ping_interval=None,
        )  # fmt: skip

    async def send(self, key: str) -> None:
        await self.conn.send(json.dumps({"group": "fan", "text": key}))

    async def close(self) -> None:
        await self.conn.close()


def ws_fanout(
    ctx: Context, servers: list[Server], sockets: int, sends: int, procs_per_server: int = 1
) -> dict[str, Any]:
    """Hold ``sockets`` in group ``fan`` spread over ``servers``; fan out ``sends`` times."""
    scratch = ctx.scratch("fanout")
    n_clients = len(servers) * procs_per_server
    per = sockets // n_clients
    clients, readies = [], []
    collector_port = _free_udp_port()
    for index in range(n_clients):
        server = servers[index % len(servers)]
        ready = scratch / f"ready-{index}"
        clients.append(
            ctx.client(
                "ws_hold",
                "--url", f"{server.ws}/ws/group/fan/", "--origin", server.origin,
                "--count", str(per), "--mode", "fanout", "--client", str(index),
                "--udp-port", str(collector_port), "--ready-file", str(ready),
                "--stop-file", str(scratch / "stop"), "--out", str(scratch / f"out-{index}.json"),
                "--max-seconds", "600",
                name=f"fanout-client-{index}",
            )
        )  # fmt: skip
        readies.append(ready)
    opened = _wait_ready(clients, readies, 180)
    failed = sum(o["failed"] for o in opened)
    trigger = _WsTrigger(servers[0])
    watch = [c.pid for c in clients]
    data = asyncio.run(_drive(ctx, sends, n_clients, trigger, watch, collector_port, servers))
    (scratch / "stop").write_text("stop")
    for client in clients:
        client.wait(30)
        client.stop(5)
    data["sockets"] = per * n_clients - failed
    data["failed_connects"] = failed
    return data


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _drive(
    ctx: Context,
    sends: int,
    expected: int,
    trigger: Any,
    watch: list[int],
    port: int,
    servers: list[Server],
    tool: str = "python-ws (bench.clients.ws_hold)",
) -> dict[str, Any]:
    """Send ``sends`` fan-outs one at a time through ``trigger``; collect the UDP reports."""
    loop = asyncio.get_running_loop()
    collector = _Collector(expected)
    transport, _ = await loop.create_datagram_endpoint(
        lambda: collector, local_addr=("127.0.0.1", port)
    )
    await trigger.open(port)
    latencies, firsts, missed = [], [], 0
    clients = CpuWindow(lambda: watch)
    srv = CpuWindow(lambda: [s.proc.pid for s in servers])
    try:
        for index in range(WARMUP_SENDS + sends):
            if index == WARMUP_SENDS:
                clients.begin()
                srv.begin()
            key = f"m{index}"
            event = collector.event(key)
            started = time.monotonic()
            await trigger.send(key)
            try:
                await asyncio.wait_for(event.wait(), SEND_TIMEOUT)
            except asyncio.TimeoutError:
                missed += 1
                continue
            if index >= WARMUP_SENDS:
                reports = collector.reports[key]
                latencies.append(max(last for _, last in reports) - started)
                firsts.append(min(first for first, _ in reports) - started)
            await asyncio.sleep(0.005)
        clients.end()
        srv.end()
    finally:
        await trigger.close()
        transport.close()
    return {
        "sends": sends,
        "missed": missed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "first_p50_ms": percentile(firsts, 50) * 1000,
        "server_cpu_cores": srv.total,
        "client": client_summary(tool, clients),
    }


class _RedisTrigger:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client: Any = None

    async def open(self, udp_port: int) -> None:
        from redis import asyncio as aioredis

        self.client = aioredis.Redis.from_url(self.url)

    async def send(self, key: str) -> None:
        await self.client.publish("fan", key)

    async def close(self) -> None:
        await self.client.aclose()


def redis_floor(ctx: Context, sends: int, subscribers: int = 2) -> dict[str, Any]:
    scratch = ctx.scratch("floor")
    port = _free_udp_port()
    clients, readies = [], []
    for index in range(subscribers):
        ready = scratch / f"ready-{index}"
        clients.append(
            ctx.client(
                "redis_sub", "--url", ctx.redis().url, "--channel", "fan", "--client", str(index),
                "--udp-port", str(port), "--ready-file", str(ready),
                "--stop-file", str(scratch / "stop"), "--out", str(scratch / f"out-{index}.json"),
                name=f"redis-sub-{index}",
            )
        )  # fmt: skip
        readies.append(ready)
    _wait_ready(clients, readies, 60)
    trigger = _RedisTrigger(ctx.redis().url)
    data = asyncio.run(
        _drive(
            ctx,
            sends,
            subscribers,
            trigger,
            [c.pid for c in clients],
            port,
            [],
            tool="redis-py subscribers (bench.clients.redis_sub)",
        )
    )
    (scratch / "stop").write_text("stop")
    for client in clients:
        client.wait(30)
        client.stop(5)
    data["subscribers"] = subscribers
    return data


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    sockets, sends = ctx.profile.fanout_sockets, ctx.profile.fanout_sends
    for key, label, env in (
        ("core", "core layer (default)", {}),
        ("pubsub", "pub/sub layer (CHANNELS_LAYER=pubsub)", {"CHANNELS_LAYER": "pubsub"}),
    ):
        ctx.flush_redis()
        say(f"fanout: {label}, {sockets} sockets on 2 dynos, {sends} sends")
        servers = [ctx.start_server("ours", redis=True, env=env, dyno=f"web.{i}") for i in (1, 2)]
        try:
            data = ws_fanout(ctx, servers, sockets, sends)
            result.measure(key, label=f"ours, {label}", **data)
        except Exception as exc:
            result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
        finally:
            stop_servers(servers)
    say("fanout: raw Redis PUBLISH floor")
    try:
        result.measure("floor", label="raw Redis PUBLISH -> 2 subscriber processes",
                       **redis_floor(ctx, sends))  # fmt: skip
    except Exception as exc:
        result.errors.append(f"floor: {type(exc).__name__}: {exc}")
    for subject, baseline, label in (
        ("core", "pubsub", "core layer vs pub/sub layer"),
        ("core", "floor", "core layer vs raw PUBLISH floor"),
        ("pubsub", "floor", "pub/sub layer vs raw PUBLISH floor"),
    ):
        if subject in result.measurements and baseline in result.measurements:
            result.latency_ratios(label, subject, baseline)
    result.notes.append(
        "Latency = trigger frame sent -> the last socket of the last client process has the "
        "message (client-side receive included); the floor has no WebSocket hop at all."
    )
