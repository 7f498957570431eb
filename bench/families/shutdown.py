"""Graceful shutdown: SIGTERM to a web dyno holding 1,000 open WebSockets.

Sockets on ``/ws/group/drain/`` (each joined the group, so ``disconnect()`` has Redis work
to do). The dyno's whole process group gets SIGTERM, as on a dyno stop. Measured: seconds
from the signal to the process exiting, when the clients saw their sockets close, the
close codes (1000/1001/1012 clean, 1006 = dropped without a close frame) and the group
members left behind in Redis (stale until ``group_expiry``, 24 h). Ours (1 process and
WEB_CONCURRENCY=2) vs plain Daphne.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

from bench.common import FamilyResult, percentile, say
from bench.stack import Context

NAME = "shutdown"
TITLE = "Graceful shutdown with open WebSockets"
CLEAN = {"1000", "1001", "1012"}
GROUP_KEY = "asgi:group:drain"


def measure(ctx: Context, kind: str, processes: int) -> dict[str, Any]:
    ctx.flush_redis()
    server = ctx.start_server(kind, processes=processes)
    scratch = ctx.scratch(f"shutdown-{kind}")
    sockets = ctx.profile.shutdown_sockets
    n_clients = 2 if sockets >= 100 else 1
    clients = []
    try:
        for index in range(n_clients):
            clients.append(
                ctx.client(
                    "ws_hold", "--url", f"{server.ws}/ws/group/drain/", "--origin", server.origin,
                    "--count", str(sockets // n_clients), "--mode", "shutdown",
                    "--ready-file", str(scratch / f"ready-{index}"),
                    "--stop-file", str(scratch / "stop"),
                    "--out", str(scratch / f"out-{index}.json"), "--max-seconds", "300",
                    name=f"shutdown-client-{index}",
                )
            )  # fmt: skip
        opened = 0
        for index, proc in enumerate(clients):
            ready = scratch / f"ready-{index}"
            deadline = time.monotonic() + 120
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"shutdown client not ready:\n{proc.tail(20)}")
                time.sleep(0.05)
            opened += json.loads(ready.read_text())["opened"]
        members = ctx.redis().client().zcard(GROUP_KEY)
        time.sleep(0.5)
        say(f"shutdown: SIGTERM to {server.label} with {opened} sockets")
        started = time.monotonic()
        server.proc.signal_group(signal.SIGTERM)
        try:
            code = server.proc.wait(45)
        except subprocess.TimeoutExpired:
            code = None
        exit_s = time.monotonic() - started
        codes: dict[str, int] = {}
        closed: list[float] = []
        still_open = 0
        for index, proc in enumerate(clients):
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                (scratch / "stop").write_text("stop")
                proc.wait(15)
            out = json.loads((scratch / f"out-{index}.json").read_text())
            for k, v in out.get("codes", {}).items():
                codes[k] = codes.get(k, 0) + v
            closed += [t - started for t in out.get("closed_at", [])]
            still_open += out.get("still_open", 0)
        total = sum(codes.values()) or 1
        clean = sum(v for k, v in codes.items() if k in CLEAN)
        return {
            "label": server.label,
            "sockets": opened,
            "group_members_before": members,
            "exit_s": exit_s,
            "exit_code": code,
            "close_codes": codes,
            "clean_share": clean / total,
            "abnormal_1006_share": codes.get("1006", 0) / total,
            "closed_p50_s": percentile(closed, 50),
            "closed_max_s": max(closed, default=float("nan")),
            "still_open": still_open,
            "stale_group_members": ctx.redis().client().zcard(GROUP_KEY),
        }
    finally:
        (scratch / "stop").write_text("stop")
        for proc in clients:
            proc.stop(5)
        server.stop(5)


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    cases = [("ours_1", "ours", 1), ("daphne", "daphne", 1)]
    if ctx.profile.shutdown_prefork:
        cases.append(("ours_2", "ours", 2))
    for key, kind, processes in cases:
        try:
            result.measure(key, **measure(ctx, kind, processes))
        except Exception as exc:
            result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
    for subject in [c[0] for c in cases if c[1] == "ours"]:
        label = "ours" if subject == "ours_1" else "ours WEB_CONCURRENCY=2"
        result.ratio(f"{label} vs daphne: clean close share", "clean share", subject, "daphne",
                     key="clean_share", unit="share")  # fmt: skip
        result.ratio(f"{label} vs daphne: 1006 share", "1006 share", subject, "daphne",
                     key="abnormal_1006_share", better="lower", unit="share")  # fmt: skip
        result.ratio(f"{label} vs daphne: seconds to exit", "exit seconds", subject, "daphne",
                     key="exit_s", better="lower", unit="s")  # fmt: skip
        result.ratio(
            f"{label} vs daphne: stale group members", "stale members", subject, "daphne",
            key="stale_group_members", better="lower", unit="members",
        )  # fmt: skip
    for key, m in result.measurements.items():
        if key.startswith("ours") and m.get("exit_s", 0) > 5:
            result.notes.append(
                f"{key}: exit took {m['exit_s']:.1f} s although every socket was closed within "
                f"{m['closed_max_s']:.2f} s: a cancelled channel-layer receive kept running until "
                "Daphne's application_close_timeout (10 s); reproduce with "
                "`python -m bench.diagnostics.cancel_swallow` (Python <= 3.11)."
            )
    result.notes.append(
        "Ours closes every socket with 1012 and lets disconnect() run (group_discard) before "
        "it exits; Daphne exits at once and drops the sockets (1006), leaving their group "
        "memberships in Redis until group expiry."
    )
