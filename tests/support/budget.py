"""Redis clients per process type, idle and under load (the README's budget table).

Each process type of a built ``runtime_app`` runs alone against a fresh Redis database,
like a dyno: ``web`` (1 process, and ``WEB_CONCURRENCY=2``), ``worker`` at concurrency 1
and 8, ``web`` in single-process mode (no Redis), the release phase and a one-off
``manage.py shell`` that sends a job and a group message. Job results are recorded on a
second Redis (``RT_RECORD_URL``) so the app's own bookkeeping is not counted. Shared by
``tests/e2e/test_redis_clients_table.py`` (which holds the README to these numbers) and the
bench.

Figures per process type (the busiest process of the dyno):
``idle``: 7 s after start; ``load``: peak while sockets connect, broadcast, send jobs and
disconnect (web), or while jobs that also ``group_send`` run (worker); ``after``: 7 s after
the load ended (idle connections beyond one are closed after 5 s).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.clients import ClientSampler, dyno_clients
from tests.support.deployment import Deployment, send_jobs_sync, wait_until
from tests.support.procs import ManagedProcess
from tests.support.redis import RedisServer
from tests.support.ws import open_many

WEB2 = "web, WEB_CONCURRENCY=2 (per process)"
SINGLE = "web, single-process (no Redis)"
SHELL = "one-off manage.py shell (send + group_send)"
PROCESS_TYPES = 7
RELEASE = "channels-buildpack migrate"  # runtime_app has no database: the release line
SHELL_SEND = (
    'python manage.py shell -c "'
    "import asyncio; from channels.layers import get_channel_layer\n"
    "async def use_layer():\n"
    "    layer = get_channel_layer()\n"
    "    await layer.send('jobs', {'type': 'job.run', 'id': 'from-shell'})\n"
    "    await layer.group_send('budget', {'type': 'relay', 'text': 'from-shell'})\n"
    "    await asyncio.sleep(1.5)\n"
    'asyncio.run(use_layer())"'
)


@dataclass
class Figures:
    """Clients of the busiest process of one process type."""

    idle: int
    load: int
    after: int

    def as_dict(self) -> dict[str, int]:
        return {"idle": self.idle, "load": self.load, "after": self.after}


def _busiest(proc: ManagedProcess, port: int) -> int:
    return max(dyno_clients(proc, port).values(), default=0)


def _settle(proc: ManagedProcess, port: int, seconds: float) -> int:
    """Clients after *seconds* (sampled at the end)."""
    time.sleep(seconds)
    return _busiest(proc, port)


async def _web_load(url: str, sockets: int, jobs_per_socket: int) -> None:
    conns = await open_many(f"{url}/ws/group/budget/", sockets, concurrency=sockets)
    try:
        for conn in conns:
            assert "joined" in str(await asyncio.wait_for(conn.recv(), 10))
        await asyncio.gather(
            *(c.send(json.dumps({"broadcast": f"hello {i}"})) for i, c in enumerate(conns))
        )
        for n in range(jobs_per_socket):
            await asyncio.gather(
                *(c.send(json.dumps({"job": f"ws-{n}-{i}"})) for i, c in enumerate(conns))
            )
        await asyncio.sleep(0.5)
    finally:
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


class BudgetMeasurement:
    """Runs the process types one after the other and collects :class:`Figures`."""

    def __init__(
        self,
        deploy: Deployment,
        redis: RedisServer,
        *,
        sockets: int = 60,
        jobs: int = 300,
        idle_seconds: float = 7.0,
        after_seconds: float = 7.0,
    ) -> None:
        self.deploy = deploy
        self.redis = redis
        self.sockets = sockets
        self.jobs = jobs
        self.idle_seconds = idle_seconds
        self.after_seconds = after_seconds
        self.results: dict[str, Figures] = {}

    def _sampled(self, proc: ManagedProcess, load: Callable[[], None]) -> int:
        with ClientSampler({"dyno": proc}, self.redis.port) as sampler:
            load()
        return sampler.result.process_peak.get("dyno", 0)

    def web(self, label: str, processes: int) -> None:
        dyno = self.deploy.web("web.1", processes=processes)
        try:
            idle = _settle(dyno.process, self.redis.port, self.idle_seconds)
            load = self._sampled(
                dyno.process, lambda: asyncio.run(_web_load(dyno.ws, self.sockets, 1))
            )
            after = _settle(dyno.process, self.redis.port, self.after_seconds)
            self.results[label] = Figures(idle, load, after)
        finally:
            dyno.process.stop(30)

    def worker(self, label: str, concurrency: int, counted: Callable[[], int]) -> None:
        env = {"CHANNELS_WORKER_CONCURRENCY": str(concurrency)}
        dyno = self.deploy.worker("worker.1", env=env)
        try:
            idle = _settle(dyno.process, self.redis.port, self.idle_seconds)
            ids = [f"{label}-{i}" for i in range(self.jobs)]
            before = counted()

            def run_jobs() -> None:
                send_jobs_sync(self.redis.url, "jobs", ids, group="budget")
                wait_until(lambda: counted() >= before + self.jobs, 120, f"{label}: jobs done")

            load = self._sampled(dyno.process, run_jobs)
            after = _settle(dyno.process, self.redis.port, self.after_seconds)
            self.results[label] = Figures(idle, load, after)
        finally:
            dyno.process.stop(30)

    def one_off(self, label: str, process_type: str, command: str) -> None:
        platform, procs, build = self.deploy.platform, self.deploy.procs, self.deploy.build
        database = f"sqlite:///{build.app_dir / 'budget.sqlite3'}"  # runtime_app has none
        proc = platform.start(
            procs, build, process_type, dyno=f"{process_type}.1", command=command,
            env={**self.deploy.env, "DATABASE_URL": database},
        )  # fmt: skip
        with ClientSampler({"dyno": proc}, self.redis.port) as sampler:
            code = proc.wait(120)
        assert code == 0, proc.tail()
        peak = sampler.result.process_peak.get("dyno", 0)
        self.results[label] = Figures(0, peak, 0)

    def single_process_web(self, label: str) -> None:
        env = {k: v for k, v in self.deploy.env.items() if k not in ("REDIS_URL", "CHANNELS_LAYER")}
        single = Deployment(self.deploy.platform, self.deploy.procs, self.deploy.build, env)
        dyno = single.web("web.1")
        try:
            idle = _settle(dyno.process, self.redis.port, 0.5)
            load = self._sampled(
                dyno.process, lambda: asyncio.run(_web_load(dyno.ws, self.sockets, 1))
            )
            self.results[label] = Figures(idle, load, _busiest(dyno.process, self.redis.port))
        finally:
            dyno.process.stop(30)

    def steps(self, counted: Callable[[], int]) -> list[tuple[str, Callable[[], None]]]:
        """Every process type, as (label, measure it)."""
        return [
            ("web", lambda: self.web("web", 1)),
            (WEB2, lambda: self.web(WEB2, 2)),
            ("worker, concurrency 1", lambda: self.worker("worker, concurrency 1", 1, counted)),
            ("worker, concurrency 8", lambda: self.worker("worker, concurrency 8", 8, counted)),
            (SINGLE, lambda: self.single_process_web(SINGLE)),
            ("release phase", lambda: self.one_off("release phase", "release", RELEASE)),
            (SHELL, lambda: self.one_off(SHELL, "run", SHELL_SEND)),
        ]

    def run_all(self, counted: Callable[[], int]) -> dict[str, dict[str, int]]:
        """Every process type, one after the other: ``{label: {"idle", "load", "after"}}``."""
        for _, measure in self.steps(counted):
            measure()
        return {label: figures.as_dict() for label, figures in self.results.items()}


def measure_in_parallel(
    deploy: Deployment, servers: Callable[[], RedisServer], **options: Any
) -> dict[str, dict[str, int]]:
    """Every process type at once, each with a Redis (and a recording Redis) of its own,
    so nothing is shared but the CPUs: a few times faster than :meth:`run_all`."""
    from concurrent.futures import ThreadPoolExecutor

    def measurement() -> tuple[BudgetMeasurement, Callable[[], int]]:
        redis, record = servers(), servers()
        env = {**deploy.env, "REDIS_URL": redis.url, "RT_RECORD_URL": record.url}
        own = Deployment(deploy.platform, deploy.procs, deploy.build, env)
        return BudgetMeasurement(own, redis, **options), record_counter(record)

    measurements = [measurement() for _ in range(PROCESS_TYPES)]
    labels = [label for label, _ in measurements[0][0].steps(lambda: 0)]
    with ThreadPoolExecutor(len(labels)) as pool:
        futures = [
            pool.submit(dict(m.steps(counted))[label])
            for label, (m, counted) in zip(labels, measurements, strict=True)
        ]
        for future in futures:
            future.result()
    return {
        label: m.results[label].as_dict()
        for label, (m, _) in zip(labels, measurements, strict=True)
    }


def format_table(results: dict[str, dict[str, int]]) -> str:
    """The README's Markdown table body."""
    lines = [
        "| process | idle | peak under load | after load |",
        "|---|---:|---:|---:|",
    ]
    for label, figures in results.items():
        lines.append(f"| {label} | {figures['idle']} | {figures['load']} | {figures['after']} |")
    return "\n".join(lines)


def record_counter(record: RedisServer) -> Callable[[], int]:
    """How many jobs the consumers recorded (``rt:count`` on the recording server)."""
    client: Any = record.client()
    return lambda: int(client.hlen("rt:count"))
