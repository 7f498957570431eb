"""Issue 11: the default deployment on a 20-client Redis (Heroku Key-Value Store mini).

``redis-server --maxclients 20``; web.1 + web.2, worker.1..4 and two clients of the app's
own (a cache, a counter). WebSocket clients on both web dynos send ``budget_jobs`` jobs
(``{"job": ID}``: the consumer sends it to the ``jobs`` channel) and a group message
crosses from web.1 to web.2 (``tests/support/formation.py``). Jobs are recorded on a
second Redis, so the app's bookkeeping does not compete for the 20 clients.

* ours: ``channels-buildpack web`` at ``WEB_CONCURRENCY=2`` and ``channels-buildpack
  worker`` (concurrency 1, and 8 in the full run);
* stock: ``daphne`` (one process per dyno: it ignores ``WEB_CONCURRENCY``) and
  ``manage.py runworker jobs``, on the app's own channels_redis layer
  (``CHANNELS_BUILDPACK_SETTINGS=off``). Same channel capacity for both.

Reported per run: jobs handled exactly once, duplicated, lost; WebSockets closed by the
server (1011 is the consumer raising) and handshakes that failed; a group message across
dynos; peak clients and the connections Redis refused. The full run also measures the
Redis clients of each process type (``tests/support/budget.py``, the README's table).
"""

from __future__ import annotations

from typing import Any

from bench.common import FIXTURES, FamilyResult, say
from bench.stack import Context, wait_worker_ready
from tests.support.formation import Formation, WebDyno

NAME = "redis_budget"
TITLE = "20-client Redis: web x2 + worker x4 + the app's own clients (issue 11)"
MAXCLIENTS = 20
CAPACITY = "5000"


def one_run(ctx: Context, key: str, stock: bool, concurrency: int) -> dict[str, Any]:
    # fresh servers for every run: nothing left connected by the previous one
    small = ctx.redis(f"budget-{key}", extra_args=("--maxclients", str(MAXCLIENTS)))
    record = ctx.redis(f"budget-{key}-record")
    env = {"REDIS_URL": small.url, "BENCH_RECORD_URL": record.url, "CHANNELS_CAPACITY": CAPACITY}
    if stock:
        env["CHANNELS_BUILDPACK_SETTINGS"] = "off"
    servers = [
        ctx.start_server(
            "daphne" if stock else "ours", processes=1 if stock else 2, env=env, dyno=f"web.{i}"
        )
        for i in (1, 2)
    ]
    workers = []
    try:
        extra = {"BENCH_RECORD_URL": record.url, "CHANNELS_CAPACITY": CAPACITY}
        for index in range(1, 5):
            workers.append(
                ctx.start_worker(
                    stock=stock, index=index, concurrency=concurrency, redis_name=f"budget-{key}",
                    extra_env=extra,
                )
            )  # fmt: skip
        for worker in workers:
            wait_worker_ready(worker, stock)
        webs = [WebDyno(f"web.{i + 1}", s.ws, s.proc) for i, s in enumerate(servers)]
        formation = Formation(
            small, record, webs, workers, count_key="bench:count",
            jobs=ctx.profile.budget_jobs, sockets_per_web=ctx.profile.budget_sockets,
            timeout=60 + ctx.profile.budget_jobs / 10,
        )  # fmt: skip
        result = formation.run()
        summary = result.summary()
        summary["handled_once_share"] = result.once / max(1, ctx.profile.budget_jobs)
        summary["crashed"] = sum(1 for w in workers if w.poll() is not None)
        return summary
    finally:
        for proc in [*workers, *(s.proc for s in servers)]:
            proc.stop(30)


def clients_per_process_type(ctx: Context, result: FamilyResult) -> None:
    """The README's table: Redis clients of each process type (runtime_app)."""
    import itertools

    from tests.support.apps import LOCAL_HOSTS
    from tests.support.budget import format_table, measure_in_parallel
    from tests.support.deployment import Deployment

    build = ctx.platform.build(FIXTURES / "runtime_app", dict(LOCAL_HOSTS))
    names = itertools.count(1)
    figures = measure_in_parallel(
        Deployment(ctx.platform, ctx.procs, build, {}),
        lambda: ctx.redis(f"budget-table-{next(names)}"),
    )
    for label, values in figures.items():
        result.measure(f"clients: {label}", label=label, **values)
    result.notes.append("Redis clients per process type:\n\n" + format_table(figures))


def run(ctx: Context, result: FamilyResult) -> None:
    ctx.bench_build()
    runs = [("stock", True, 1)] + [(f"ours_c{c}", False, c) for c in ctx.profile.budget_concurrency]
    for key, stock, concurrency in runs:
        label = "stock daphne + runworker" if stock else f"ours, concurrency {concurrency}"
        say(f"redis_budget: {label}, {ctx.profile.budget_jobs} jobs, maxclients {MAXCLIENTS}")
        try:
            result.measure(key, label=label, **one_run(ctx, key, stock, concurrency))
        except Exception as exc:
            result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
    for key in [k for k, stock, _ in runs if not stock]:
        for metric, field, better, unit in (
            ("jobs handled exactly once", "handled_once_share", "higher", "share"),
            ("jobs lost", "lost", "lower", "jobs"),
            ("WebSockets closed by the server", "ws_closed_total", "lower", "sockets"),
            ("peak Redis clients", "peak_clients", "lower", "clients"),
            ("connections Redis refused", "refused_connections", "lower", "connections"),
        ):
            for name in (key, "stock"):
                entry = result.measurements.get(name, {})
                entry.setdefault(
                    "ws_closed_total", sum(entry.get("ws_closed_by_server", {}).values())
                )
            result.ratio(f"{key.replace('_', ' ')} vs stock", metric, key, "stock",
                         key=field, better=better, unit=unit)  # fmt: skip
    for name, m in result.measurements.items():
        if "jobs_sent" in m:
            result.notes.append(
                f"{name}: {m['handled_once']}/{m['jobs_sent']} once, {m['duplicated']} "
                f"duplicated, {m['lost']} lost; {m['failed_handshakes']} handshakes failed; "
                f"closed by the server: {m['ws_closed_by_server'] or 'none'}; group across "
                f"dynos: {m['group_crossed']}; peak {m['peak_clients']} clients, "
                f"{m['refused_connections']} refused; tracebacks in logs: {m['tracebacks']}"
            )
    if ctx.profile.budget_table:
        try:
            clients_per_process_type(ctx, result)
        except Exception as exc:
            result.errors.append(f"clients per process type: {type(exc).__name__}: {exc}")
