"""Boot: dyno process start -> port bound -> first HTTP 200 on $PORT.

``channels-buildpack web`` (the generated Procfile line, WEB_CONCURRENCY=1) on each engine
(Daphne, and CHANNELS_WEB_SERVER=uvicorn) against
``daphne -b 127.0.0.1 -p $PORT benchsite.asgi:application`` started by hand, both as a
dyno starts them (bash sources .profile.d, then execs the command), both with REDIS_URL
(scaled mode). Two pollers start with the process: one connects every 5 ms until the port
accepts (bound); the other, once connected, sends ``GET /health/`` and waits for the
response (our launcher binds before importing the app: a request that arrives early waits
in the backlog; Daphne binds only when ready, so the poller retries until it can connect).
Alternating runs; medians.
"""

from __future__ import annotations

import socket
import threading
import time

from bench.common import FamilyResult, median, say
from bench.stack import Context

NAME = "boot"
TITLE = "Boot: start to bound port and first HTTP 200"
POLL = 0.005


def _wait_bound(port: int, started: float, out: dict[str, float], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                out["bound"] = time.monotonic() - started
                return
        except OSError:
            time.sleep(POLL)


def _wait_200(port: int, started: float, out: dict[str, float], stop: threading.Event) -> None:
    request = f"GET /health/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.settimeout(60)
                sock.sendall(request.encode())
                head = sock.recv(64)
        except OSError:
            time.sleep(POLL)
            continue
        if head.startswith(b"HTTP/1.1 200"):
            out["first_200"] = time.monotonic() - started
            return
        out["first_status"] = float(head[9:12] or 0)
        time.sleep(POLL)


def boot_once(ctx: Context, kind: str) -> dict[str, float]:
    out: dict[str, float] = {}
    stop = threading.Event()
    server = ctx.start_server(kind, wait=False)
    threads = [
        threading.Thread(target=f, args=(server.port, server.started, out, stop), daemon=True)
        for f in (_wait_bound, _wait_200)
    ]
    for thread in threads:
        thread.start()
    threads[1].join(60)
    stop.set()
    threads[0].join(5)
    if "first_200" not in out:
        raise RuntimeError(f"{server.label} never answered 200\n{server.proc.tail(30)}")
    server.stop()
    return out


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    kinds = ["ours", "ours_uvicorn", "daphne"]
    samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    for kind in kinds[:2]:
        boot_once(ctx, kind)  # warm the page cache (first import after the build)
    for index in range(ctx.profile.boot_runs):
        shift = index % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            samples[kind].append(boot_once(ctx, kind))
        say(f"boot: run {index + 1}/{ctx.profile.boot_runs}")
    labels = (
        ("ours", "channels-buildpack web (daphne)"),
        ("ours_uvicorn", "channels-buildpack web (uvicorn)"),
        ("daphne", "plain daphne"),
    )
    for kind, label in labels:
        runs = samples[kind]
        result.measure(
            kind,
            label=label,
            bound_s=median(r.get("bound", float("nan")) for r in runs),
            first_200_s=median(r["first_200"] for r in runs),
            runs=[{k: round(v, 4) for k, v in r.items()} for r in runs],
        )
    for kind, engine in (("ours", "daphne"), ("ours_uvicorn", "uvicorn")):
        name = f"ours ({engine}) vs daphne"
        result.ratio(f"{name}: start to first 200", "first_200_s", kind, "daphne",
                     better="lower", unit="s")  # fmt: skip
        result.ratio(f"{name}: start to port bound", "bound_s", kind, "daphne",
                     better="lower", unit="s")  # fmt: skip
        ours = result.measurements[kind]
        ours["bound_share_of_boot"] = ours["bound_s"] / ours["first_200_s"]
    result.notes.append(
        "Daphne binds its port only once the app is imported, so for Daphne bound ~= ready. "
        "Ours binds first: Heroku's 60 s boot check (R10) is met at 'bound'."
    )
