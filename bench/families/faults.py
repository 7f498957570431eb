"""Issue 20: what each Redis fault costs, ours against stock channels_redis on the same app.

The bench app as two web dynos and two worker dynos on one Redis, WebSocket clients in one
group on both web dynos (``tests/support/faults.py``: chat lines, and jobs whose consumer
announces ``done <id>`` to the group; jobs also counted on a second Redis):

* ours: ``channels-buildpack web`` (web.2 at ``WEB_CONCURRENCY=2``) and ``channels-buildpack
  worker``; stock: ``daphne`` and ``manage.py runworker jobs`` on the app's own
  channels_redis core layer (``CHANNELS_BUILDPACK_SETTINGS=off``). Same capacity.
* ``stall``: the server stopped 8 s (SIGSTOP) under load; ``kill``: every client
  connection killed six times, 1.2 s apart, under load; ``full``: ``maxmemory`` reached
  under ``noeviction`` for 4 s under load; ``restart``: killed, an empty server on the same
  port 2 s later: how long until sockets that joined before it hear each other across
  dynos again (``heal_seconds``; none within the wait: ``null``), then jobs sent after it.
* ``dropped_reply`` (in this process): a send and a group send whose reply is lost after
  the server executed them (``tests/support/dropper.py``): copies received, errors raised.

Reported per scenario and stack: chat lines and job replies expected by every socket and
missing, texts a socket got twice, jobs lost and run twice, sockets the server closed,
tracebacks in the logs, log lines about the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from bench.common import FamilyResult, say
from bench.stack import Context, wait_worker_ready
from tests.support.faults import RoomLoad, full, kill_clients, restart_empty, stall

NAME = "faults"
TITLE = "Redis faults: stall, restart empty, connections killed, full, lost replies (issue 20)"
CAPACITY = "2000"  # a stall queues a burst; capacity drops are not what is measured
HEAL_WAIT = 20.0
STEADY_EVERY = 0.1


def _stack(ctx: Context, key: str, stock: bool) -> tuple[Any, Any, list[Any], list[Any]]:
    redis = ctx.redis(f"faults-{key}")
    record = ctx.redis(f"faults-{key}-record")
    redis.client().flushall()
    record.client().flushall()
    env = {"REDIS_URL": redis.url, "BENCH_RECORD_URL": record.url, "CHANNELS_CAPACITY": CAPACITY}
    if stock:
        env["CHANNELS_BUILDPACK_SETTINGS"] = "off"
    kind = "daphne" if stock else "ours"
    servers = [
        ctx.start_server(kind, processes=processes, env=env, dyno=f"web.{index}")
        for index, processes in ((1, 1), (2, 1 if stock else 2))
    ]
    extra = {"BENCH_RECORD_URL": record.url, "CHANNELS_CAPACITY": CAPACITY}
    workers = [
        ctx.start_worker(stock=stock, index=index, redis_name=f"faults-{key}", extra_env=extra)
        for index in (1, 2)
    ]
    for worker in workers:
        wait_worker_ready(worker, stock)
    return redis, record, servers, workers


async def _under_load(load: RoomLoad, fault: Any, seconds: float) -> None:
    await load.join()
    steady = asyncio.ensure_future(load.steady(seconds, STEADY_EVERY, "load"))
    await asyncio.sleep(1.0)
    await fault()
    await steady
    await load.delivered(30)
    await asyncio.sleep(1.0)


async def _restart(load: RoomLoad, redis: Any, figures: dict[str, Any]) -> None:
    old = await load.join()
    await load.say("before", by=old[0])
    await load.delivered(15)
    await restart_empty(redis, down=2.0)
    healed = await load.heard_again(old[-1], old, timeout=HEAL_WAIT)
    figures["heal_seconds"] = None if healed is None else round(healed, 2)
    for number in range(20):
        await load.job(f"after-{number}", channel="jobs")
    await load.delivered(20)
    await asyncio.sleep(1.0)


def _scenario(ctx: Context, name: str, stock: bool) -> dict[str, Any]:
    key = f"{name}-{'stock' if stock else 'ours'}"
    redis, record, servers, workers = _stack(ctx, key, stock)
    load = RoomLoad({s.label + str(i): s.ws for i, s in enumerate(servers)}, greeting=False)
    load.channels = ("jobs",)
    figures: dict[str, Any] = {}
    started = time.monotonic()

    async def kills() -> None:
        for _ in range(6):
            await asyncio.to_thread(kill_clients, redis)
            await asyncio.sleep(1.2)

    async def fill() -> None:
        with full(redis):
            await asyncio.sleep(4.0)

    try:
        faults = {
            "stall": lambda: _under_load(load, lambda: stall(redis, 8.0), 11.0),
            "kill": lambda: _under_load(load, kills, 9.0),
            "full": lambda: _under_load(load, fill, 7.0),
            "restart": lambda: _restart(load, redis, figures),
        }
        asyncio.run(faults[name]())
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(load.close())
        logs = [proc.output() for proc in [*(s.proc for s in servers), *workers]]
        for proc in [*workers, *(s.proc for s in servers)]:
            proc.stop(30)
    counts = {k.decode(): int(v) for k, v in record.client().hgetall("bench:count").items()}
    return {**figures, **_tally(load, counts, logs), "seconds": round(time.monotonic() - started)}


def _tally(load: RoomLoad, counts: dict[str, int], logs: list[str]) -> dict[str, Any]:
    missing = load.missing()
    text = "\n".join(logs)
    return {
        "jobs_sent": len(load.jobs),
        "jobs_lost": sum(1 for job in load.jobs if job not in counts),
        "jobs_run_twice": sum(1 for job in load.jobs if counts.get(job, 0) > 1),
        "deliveries_expected": sum(len(load.expected[s.since :]) for s in load.sockets),
        "deliveries_missing": sum(len(sockets) for sockets in missing.values()),
        "texts_doubled": len(load.duplicated()),
        "sockets_closed": len(load.closed()),
        "frames_refused": load.failed_sends,
        "tracebacks": text.count("Traceback"),
        "said_stalled": text.count("Redis has not answered for"),
        "said_full": text.count("Redis is full"),
        "said_restored": text.count("came back without its data"),
    }


def _dropped_reply(stock: bool) -> dict[str, Any]:
    """A send and a group send (3 members) whose replies are lost after they ran."""
    from channels_redis.core import RedisChannelLayer as Stock

    from buildpack.runtime.layers.redis import RedisChannelLayer as Ours
    from tests.support.dropper import ReplyDropper
    from tests.support.redis import RedisServer

    async def run(server: RedisServer) -> dict[str, Any]:
        errors = 0
        async with ReplyDropper(server.port) as proxy:
            sender = (Stock if stock else Ours)(hosts=[proxy.url])
            receiver = Ours(hosts=[server.url])
            members = [await receiver.new_channel() for _ in range(3)]
            for member in members:
                await receiver.group_add("room", member)
            for operation in (
                lambda: sender.send("jobs", {"type": "job"}),
                lambda: sender.group_send("room", {"type": "line"}),
            ):
                proxy.arm(b"EVAL")
                try:
                    await operation()
                except Exception:
                    errors += 1
            copies = await _drain(receiver, ["jobs", *members])
            await sender.flush()
            await receiver.flush()
        return {"expected": 4, "received": copies, "errors_raised": errors}

    with RedisServer() as server:
        return asyncio.run(run(server))


async def _drain(layer: Any, channels: list[str]) -> int:
    copies = 0
    for channel in channels:
        with contextlib.suppress(asyncio.TimeoutError):
            while True:
                await asyncio.wait_for(layer.receive(channel), 1.0)
                copies += 1
    return copies


def run(ctx: Context, result: FamilyResult) -> None:
    for name in ctx.profile.faults:
        for stock in (True, False):
            key = f"{name} {'stock' if stock else 'ours'}"
            say(f"faults: {key}")
            try:
                if name == "dropped_reply":
                    figures = _dropped_reply(stock)
                else:
                    ctx.bench_build()
                    figures = _scenario(ctx, name, stock)
            except Exception as exc:
                result.errors.append(f"{key}: {type(exc).__name__}: {exc}")
                continue
            result.measure(key, stack="stock channels_redis" if stock else "ours", **figures)
        _compare(result, name)
    for key, m in result.measurements.items():
        result.notes.append(f"{key}: {_summary(m)}")


def _summary(m: dict[str, Any]) -> str:
    if "received" in m:
        received = f"{m['received']}/{m['expected']} copies received"
        return f"{received}, {m['errors_raised']} errors raised into the caller"
    heal = ""
    if "heal_seconds" in m:
        heal = (
            f"healed after {m['heal_seconds']} s; "
            if m["heal_seconds"] is not None
            else (f"not healed within {HEAL_WAIT:g} s; ")
        )
    return (
        f"{heal}jobs {m['jobs_lost']}/{m['jobs_sent']} lost, {m['jobs_run_twice']} run twice; "
        f"deliveries {m['deliveries_missing']}/{m['deliveries_expected']} missing, "
        f"{m['texts_doubled']} doubled; {m['sockets_closed']} sockets closed by the server, "
        f"{m['frames_refused']} frames refused; {m['tracebacks']} tracebacks; lines said: "
        f"stalled {m['said_stalled']}, full {m['said_full']}, restored {m['said_restored']}"
    )


def _compare(result: FamilyResult, name: str) -> None:
    ours, stock = f"{name} ours", f"{name} stock"
    for entry in (result.measurements.get(ours), result.measurements.get(stock)):
        if entry and "deliveries_expected" in entry:
            expected = max(1, entry["deliveries_expected"])
            entry["delivered_share"] = 1 - entry["deliveries_missing"] / expected
            entry["jobs_once_share"] = 1 - (entry["jobs_lost"] + entry["jobs_run_twice"]) / max(
                1, entry["jobs_sent"]
            )
    result.ratio(f"{name}: ours vs stock", "chat lines and replies delivered", ours, stock,
                 key="delivered_share", unit="share")  # fmt: skip
    result.ratio(f"{name}: ours vs stock", "jobs run exactly once", ours, stock,
                 key="jobs_once_share", unit="share")  # fmt: skip
