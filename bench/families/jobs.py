"""Background jobs/s: stock ``manage.py runworker jobs`` vs ``channels-buildpack worker``.

Worker dynos on one channel (``jobs``), 1 and 4 processes. Stock path: runworker with
``CHANNELS_BUILDPACK_SETTINGS=off``, so the app's own ``channels_redis.core`` layer; ours:
the generated worker line, our layer, ``--concurrency`` 1 and 8. Jobs: instant (record
only) and I/O-bound (``asyncio.sleep(0.05)`` then record). The consumer records each job
in Redis (``bench:count`` id -> times handled, ``bench:done`` id -> finish time).

Workers start and are idle (each process blocked in one BZPOPMIN) before the bench
enqueues all N jobs (stock sender, 100 concurrent sends); jobs/s = jobs handled / (last
finish - enqueue start). Processed, duplicated and lost jobs are counted per run.
"""

from __future__ import annotations

import time

from bench.common import FamilyResult, say
from bench.jobsutil import crash_reason, enqueue, wait_settled
from bench.stack import Context, blocked_pops, wait_blocked_pops, wait_worker_ready

NAME = "jobs"
TITLE = "Background jobs/s: stock runworker vs our worker"
IMPLS = (("stock", "stock runworker", True, 1), ("ours_c1", "ours, concurrency 1", False, 1),
         ("ours_c8", "ours, concurrency 8", False, 8))  # fmt: skip
KINDS = (("instant", 0.0), ("io50", 0.05))


def one_run(
    ctx: Context, stock: bool, concurrency: int, procs: int, seconds: float, count: int, tag: str
) -> dict[str, object]:
    ctx.flush_redis()
    redis = ctx.redis()
    workers = [
        ctx.start_worker(stock=stock, index=i + 1, concurrency=concurrency) for i in range(procs)
    ]
    try:
        for worker in workers:
            wait_worker_ready(worker, stock)
        # one blocking reader per process: stock (concurrency 1) and ours (any concurrency)
        if not wait_blocked_pops(redis, procs, 30):
            raise RuntimeError(f"only {blocked_pops(redis)} of {procs} readers blocked")
        readers = procs * (1 if stock else concurrency)  # consumers handling jobs at once
        crashed_before = sum(1 for w in workers if w.poll() is not None)
        ids = [f"{tag}-{i}" for i in range(count)]
        started = time.time()
        enqueue(redis.url, ids, seconds)
        enqueued = time.time() - started
        expected = count * max(seconds, 0.002) / max(1, readers) + 20
        result = wait_settled(
            redis, count, quiet=2.0 + 4 * seconds, timeout=expected, workers=workers
        )
        elapsed = result.last_done - started
        crashed = [crash_reason(w) for w in workers if w.poll() is not None]
        return {
            "jobs_per_s": result.processed / elapsed if elapsed > 0 else float("nan"),
            "seconds": elapsed,
            "enqueue_seconds": enqueued,
            **result.summary(),
            "workers": procs,
            "concurrency": concurrency,
            "crashed_before_load": crashed_before,
            "crashed": len(crashed),
            "crash_reasons": sorted({c for c in crashed if c}),
        }
    finally:
        for worker in workers:
            worker.stop(30)


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    ctx.redis()
    sizes = {"instant": ctx.profile.jobs_instant, "io50": ctx.profile.jobs_io}
    for procs in ctx.profile.jobs_procs:
        for kind, seconds in KINDS:
            for key, label, stock, concurrency in IMPLS:
                name = f"{key}_{kind}_{procs}p"
                say(f"jobs: {label}, {kind}, {procs} process(es), {sizes[kind]} jobs")
                try:
                    data = one_run(ctx, stock, concurrency, procs, seconds, sizes[kind], name)
                    result.measure(name, label=f"{label}, {kind}, {procs} proc", **data)
                except Exception as exc:
                    result.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            for key in ("ours_c1", "ours_c8"):
                result.ratio(
                    f"{key.replace('_', ' ')} vs stock runworker ({kind}, {procs} proc)",
                    "jobs/s", f"{key}_{kind}_{procs}p", f"stock_{kind}_{procs}p",
                    key="jobs_per_s", unit="jobs/s",
                )  # fmt: skip
    for name, m in result.measurements.items():
        if m.get("lost") or m.get("crashed") or m.get("duplicated_ids"):
            result.notes.append(
                f"{name}: {m['processed']}/{m['sent']} handled, {m['duplicated_ids']} duplicated, "
                f"{m['lost']} lost, {m['crashed']} worker(s) crashed "
                f"({', '.join(m['crash_reasons']) or 'no exception logged'})"
            )
    result.notes.append(
        "Stock runworker takes messages as fast as they come and queues them in-process (one "
        "consumer instance handles them one by one); with 4 processes its exactly-once "
        "defect shows as duplicated jobs (counted; jobs/s counts distinct jobs)."
    )
