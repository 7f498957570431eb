"""Issue-6 report: exactly-once delivery and idle survival, stock path vs ours.

Four worker processes on one channel (``jobs``), the same load for both paths:
``eo_messages`` instant jobs sent while the workers wait. Stock path: ``manage.py
runworker jobs`` on the app's own ``channels_redis.core.RedisChannelLayer``
(``CHANNELS_BUILDPACK_SETTINGS=off``); ours: ``channels-buildpack worker`` (our layer).
Counted from the consumer's own records: handled exactly once, duplicated, lost, and
worker crashes (a worker process that exited) with the exception that ended it.

Idle phase: after the last job the workers sit idle ``eo_idle_seconds`` (8 s), then one
more message is sent. With redis-py >= 8 (``socket_timeout`` 5 s = the layer's 5 s BZPOPMIN)
the stock workers die of ``redis.exceptions.TimeoutError`` while idle. A report, not a
pass/fail.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import FamilyResult, say
from bench.jobsutil import crash_reason, enqueue, tally, wait_settled
from bench.stack import Context, wait_blocked_pops, wait_worker_ready

NAME = "exactly_once"
TITLE = "Exactly-once delivery and idle survival (issue 6)"
WORKERS = 4


def load_phase(ctx: Context, stock: bool) -> dict[str, Any]:
    """Start 4 workers on their own Redis, send the messages, wait until settled."""
    name = "eo-stock" if stock else "eo-ours"
    ctx.flush_redis(name)
    redis = ctx.redis(name)
    count = ctx.profile.eo_messages
    workers = [ctx.start_worker(stock=stock, index=i + 1, redis_name=name) for i in range(WORKERS)]
    for worker in workers:
        wait_worker_ready(worker, stock)
    wait_blocked_pops(redis, WORKERS, 20)
    enqueue(redis.url, [f"eo-{i}" for i in range(count)])
    load = wait_settled(redis, count, quiet=2.5, timeout=60 + count / 50, workers=workers)
    say(f"exactly_once: {'stock' if stock else 'ours'}: {load.processed}/{count} handled")
    return {
        "stock": stock,
        "redis": redis,
        "workers": workers,
        "load": load,
        "idle_from": load.last_done if load.processed else time.time(),  # last job finished
        "crashed_in_load": [crash_reason(w) for w in workers if w.poll() is not None],
    }


def idle_phase(ctx: Context, state: dict[str, Any]) -> dict[str, Any]:
    """Idle ``eo_idle_seconds`` after the last job, then one more message."""
    redis, workers, load = state["redis"], state["workers"], state["load"]
    idle = ctx.profile.eo_idle_seconds
    time.sleep(max(0.0, state["idle_from"] + idle - time.time()))
    alive_before_probe = sum(1 for w in workers if w.poll() is None)
    enqueue(redis.url, ["idle-probe"])
    deadline = time.monotonic() + 3.0
    probe_handled = False
    while time.monotonic() < deadline and not probe_handled:
        probe_handled = "idle-probe" in tally(redis, 1).counts
        time.sleep(0.05)
    crashed = [crash_reason(w) for w in workers if w.poll() is not None]
    stock = state["stock"]
    return {
        "label": "stock runworker + channels_redis.core" if stock else "channels-buildpack worker",
        "workers": WORKERS,
        **load.summary(),
        "exactly_once_share": load.once / load.sent,
        "crashed_during_load": len(state["crashed_in_load"]),
        "idle_seconds": idle,
        "alive_after_idle": alive_before_probe,
        "idle_probe_handled": probe_handled,
        "crashed_total": len(crashed),
        "crash_reasons": sorted({c for c in crashed if c}),
    }


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    # Load phases one after the other (each path alone on the CPUs), on separate Redis
    # servers; the idle phases overlap (the stock workers idle while ours are loaded).
    states: dict[str, dict[str, Any]] = {}
    try:
        for key, stock in (("stock", True), ("ours", False)):
            try:
                states[key] = load_phase(ctx, stock)
            except Exception as exc:
                result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
        for key, state in states.items():
            say(f"exactly_once: {key}: idle phase")
            result.measure(key, **idle_phase(ctx, state))
    finally:
        for state in states.values():
            for worker in state["workers"]:
                worker.stop(30)
    result.ratio("ours vs stock: share handled exactly once", "exactly-once share", "ours",
                 "stock", key="exactly_once_share", unit="share")  # fmt: skip
    result.ratio("ours vs stock: distinct jobs handled", "processed", "ours", "stock",
                 key="processed", unit="jobs")  # fmt: skip
    for key in ("stock", "ours"):
        m = result.measurements.get(key)
        if m:
            result.notes.append(
                f"{key}: {m['processed_once']}/{m['sent']} exactly once, {m['duplicated_ids']} "
                f"duplicated ({m['extra_runs']} extra runs), {m['lost']} lost; crashes: "
                f"{m['crashed_during_load']} during load, {m['crashed_total']} after the idle "
                f"phase; idle probe handled: {m['idle_probe_handled']}; "
                f"reasons: {', '.join(m['crash_reasons']) or 'none'}"
            )
