"""Load generation: wrk when it is on PATH, else the Python generators in ``bench.clients``.

Every load run reports throughput, p50/p99 latency, errors, the server's CPU (cores) and
the load generator's CPU: per process CPU time / wall time over the measured window
(psutil). A generator process above 0.9 core is flagged ``client_bound``: the number then
says more about the client than about the server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import CpuWindow, client_summary, median, percentile
from bench.stack import Context, Server
from tests.support.procs import ManagedProcess

WRK_SCRIPT = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50": %d, "p90": %d, "p99": %d, '
    .. '"max": %d, "mean": %f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def choose_loadgen(requested: str) -> str:
    """``wrk`` if on PATH (unless the Python generator was asked for), else ``python``."""
    if requested == "python":
        return "python"
    if shutil.which("wrk"):
        return "wrk"
    if requested == "wrk":
        raise SystemExit("--loadgen wrk: wrk is not on PATH (apt-get install wrk)")
    return "python"


def wrk_version() -> str | None:
    path = shutil.which("wrk")
    if not path:
        return None
    out = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk [^\s]+", out.stdout + out.stderr)
    return match.group(0) if match else "wrk"


# --------------------------------------------------------------------------- client groups


def run_clients(
    ctx: Context,
    commands: list[tuple[str, list[str]]],
    seconds: float,
    server: Server | None,
    scratch: Path,
    warmup: float = 0.0,
    ready_timeout: float = 120.0,
) -> tuple[list[dict[str, Any]], CpuWindow, CpuWindow | None]:
    """Start client processes, wait until all are ready, start them together, collect.

    ``commands``: (module, args) per process; ``--ready-file/--go-file/--out`` are added.
    The clients load the server for ``warmup`` seconds unrecorded, then ``seconds``
    recorded; the CPU windows cover the recorded part only.
    Returns (results, client CPU window, server CPU window).
    """
    procs: list[ManagedProcess] = []
    files = []
    for index, (module, args) in enumerate(commands):
        ready, out = scratch / f"ready-{index}", scratch / f"out-{index}.json"
        go = scratch / "go"
        procs.append(
            ctx.client(
                module,
                *args,
                "--ready-file", str(ready),
                "--go-file", str(go),
                "--out", str(out),
                name=f"{module}-{index}",
            )
        )  # fmt: skip
        files.append((ready, out))
    deadline = time.monotonic() + ready_timeout
    for proc, (ready, _) in zip(procs, files, strict=True):
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"load client did not get ready:\n{proc.tail(30)}")
            time.sleep(0.01)
    start = time.monotonic() + 0.3
    tmp = scratch / "go.tmp"
    tmp.write_text(json.dumps({"start": start, "warmup": warmup, "duration": seconds}))
    tmp.replace(scratch / "go")
    clients = CpuWindow(lambda: [p.pid for p in procs])
    srv = CpuWindow(lambda: [server.proc.pid]) if server is not None else None
    start += warmup
    _sleep_until(start)
    clients.begin()
    if srv:
        srv.begin()
    if server is not None and server.processes > 1:
        _sleep_until(start + seconds / 2)
        server.sample_balance()
    _sleep_until(start + seconds)
    clients.end()
    if srv:
        srv.end()
    results = []
    for proc, (_, out) in zip(procs, files, strict=True):
        try:
            proc.wait(seconds + 60)
        except subprocess.TimeoutExpired:
            proc.stop(5)
        if not out.exists():
            raise RuntimeError(f"load client wrote no result:\n{proc.tail(30)}")
        results.append(json.loads(out.read_text()))
        proc.stop(5)
    return results, clients, srv


def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _merge_latencies(results: list[dict[str, Any]]) -> list[int]:
    merged: list[int] = []
    for result in results:
        merged.extend(result.get("latencies_us", []))
    return merged


# --------------------------------------------------------------------------- HTTP


def http_load(
    ctx: Context,
    server: Server,
    *,
    path: str = "/health/",
    seconds: float | None = None,
    connections: int | None = None,
    warmup: bool = True,
) -> dict[str, Any]:
    """Closed-loop keep-alive HTTP/1.1 load on ``server``; req/s, p50/p99 (ms), errors."""
    seconds = seconds or ctx.profile.http_seconds
    connections = connections or ctx.profile.http_connections
    warm = ctx.profile.warmup_seconds if warmup else 0.0
    return _http(ctx, server, path, seconds, connections, warm)


def _http(
    ctx: Context, server: Server, path: str, seconds: float, conns: int, warmup: float
) -> dict[str, Any]:
    if ctx.loadgen == "wrk":
        if warmup >= 1.0:  # wrk runs whole seconds; shorter warm-ups are skipped
            _wrk(ctx, server, path, warmup, conns)
        return _wrk(ctx, server, path, seconds, conns)
    scratch = ctx.scratch("http")
    procs = 2 if conns >= 4 else 1
    per = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    commands = [
        ("http_load", ["--port", str(server.port), "--path", path, "--connections", str(n)])
        for n in per
    ]
    results, clients, srv = run_clients(ctx, commands, seconds, server, scratch, warmup)
    latencies = _merge_latencies(results)
    wall = max((r.get("wall", seconds) for r in results), default=seconds)
    return {
        "rps": len(latencies) / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50) / 1000,
        "p99_ms": percentile(latencies, 99) / 1000,
        "requests": len(latencies),
        "errors": sum(r.get("errors", 0) + r.get("non_2xx", 0) for r in results),
        "connections": conns,
        "seconds": seconds,
        "server_cpu_cores": srv.total if srv else None,
        "server_cpu_us_per_op": cpu_per_op(srv.total if srv else None, len(latencies), wall),
        "client": client_summary("python-http (bench.clients.http_load)", clients),
    }


def _wrk(ctx: Context, server: Server, path: str, seconds: float, conns: int) -> dict[str, Any]:
    scratch = ctx.scratch("wrk")
    script = scratch / "report.lua"
    script.write_text(WRK_SCRIPT)
    threads = 1
    duration = max(1, round(seconds))
    command = [
        shutil.which("wrk") or "wrk",
        "-t", str(threads), "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s",
        "-s", str(script), f"{server.http}{path}",
    ]  # fmt: skip
    proc = ctx.procs.start(command, name="wrk")
    clients = CpuWindow(lambda: [proc.pid])
    srv = CpuWindow(lambda: [server.proc.pid])
    clients.begin()
    srv.begin()
    # wrk runs for `duration`; close the CPU window just before it ends (it exits right after)
    end = time.monotonic() + duration - 0.05
    if server.processes > 1:
        _sleep_until(end - duration / 2)
        server.sample_balance()
    _sleep_until(end)
    clients.end()
    srv.end()
    proc.wait(duration + 30)
    output = proc.output()
    proc.stop(5)
    match = re.search(r"WRKJSON (\{.*\})", output)
    if not match:
        raise RuntimeError(f"wrk produced no report:\n{output[-2000:]}")
    data = json.loads(match.group(1))
    wall = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "rps": data["requests"] / wall if wall else 0.0,
        "p50_ms": data["p50"] / 1000,
        "p99_ms": data["p99"] / 1000,
        "requests": data["requests"],
        "errors": errors,
        "connections": conns,
        "seconds": wall,
        "server_cpu_cores": srv.total,
        "server_cpu_us_per_op": cpu_per_op(srv.total, data["requests"], wall),
        "client": client_summary(f"wrk -t{threads} -c{conns}", clients, threads),
    }


# --------------------------------------------------------------------------- WebSocket


def cpu_per_op(cores: float | None, operations: int, wall: float) -> float | None:
    """Server CPU microseconds per request or message: less sensitive than throughput to
    how much of the machine the server got (a shared box)."""
    if not cores or not operations or not wall:
        return None
    return cores * wall / operations * 1e6


def ws_load(
    ctx: Context,
    server: Server,
    *,
    mode: str = "echo",
    seconds: float | None = None,
    procs: int | None = None,
    conns: int | None = None,
) -> dict[str, Any]:
    """N processes x M WebSockets, each in a send/await-answer loop; messages/s, p50/p99."""
    seconds = seconds or ctx.profile.ws_seconds
    procs = procs or ctx.profile.ws_procs
    conns = conns or ctx.profile.ws_conns_per_proc
    path = "/ws/echo/" if mode == "echo" else "/ws/group/"
    args = [
        "--url", server.ws + path, "--origin", server.origin, "--mode", mode,
        "--connections", str(conns),
    ]  # fmt: skip
    results, clients, srv = run_clients(
        ctx, [("ws_echo", args)] * procs, seconds, server, ctx.scratch("ws"),
        ctx.profile.warmup_seconds,
    )  # fmt: skip
    latencies = _merge_latencies(results)
    wall = max((r.get("wall", seconds) for r in results), default=seconds)
    return {
        "msgs_per_s": len(latencies) / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50) / 1000,
        "p99_ms": percentile(latencies, 99) / 1000,
        "messages": len(latencies),
        "errors": sum(r.get("errors", 0) for r in results),
        "connections": procs * conns,
        "seconds": seconds,
        "server_cpu_cores": srv.total if srv else None,
        "server_cpu_us_per_op": cpu_per_op(srv.total if srv else None, len(latencies), wall),
        "client": client_summary(f"python-ws ({procs} procs x {conns} conns)", clients),
    }


# --------------------------------------------------------------------------- repeats


CPU_KEYS = ("server_cpu_cores", "server_cpu_us_per_op")


def merge_runs(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Several runs of one load -> medians of the numbers; ``client_bound`` if any run was."""
    if len(runs) == 1:
        return runs[0]
    ordered = sorted(runs, key=lambda r: r[key])
    middle = ordered[len(ordered) // 2]
    merged = dict(middle)
    for name, value in middle.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[name] = median(r[name] for r in runs)
    client = dict(middle["client"])
    client["client_bound"] = any(r["client"]["client_bound"] for r in runs)
    client["cpu_busiest_process"] = max(r["client"]["cpu_busiest_process"] for r in runs)
    merged["client"] = client
    merged["repeats"] = len(runs)
    merged["runs"] = [
        {k: r[k] for k in (key, "p50_ms", "p99_ms", *CPU_KEYS) if k in r} for r in runs
    ]
    return merged
