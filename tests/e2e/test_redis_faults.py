"""Issue 20: Redis faults production apps meet, with real dynos and a real redis-server.

Heroku Key-Value Store mini has no standby and no persistence: it is rebooted (coming back
empty on the same URL), stalls for seconds (a snapshot fork, a noisy neighbour), drops
connections, and refuses writes when full (``noeviction``). Each test runs the runtime app
as two web dynos and workers on one Redis, keeps WebSocket clients in one group on both
web dynos (chat lines and background jobs whose consumer announces ``done <id>`` to the
group), applies the fault mid-load and checks what the README's Faults table promises.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tests.support import runtime_app
from tests.support.apps import LOCAL_HOSTS, engine_vars
from tests.support.deployment import Deployment, Dyno
from tests.support.faults import (
    DATA_RESTORED,
    OUTAGE_BEGAN,
    STALL_BEGAN,
    RoomLoad,
    kill_clients,
    restart_empty,
    stall,
)
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.slow]


def _deploy(
    build: Build, platform: Platform, procs: ProcessGroup, redis: RedisServer, record: RedisServer
) -> tuple[Deployment, list[Dyno], list[Dyno]]:
    # a stall queues a burst: capacity drops (by design, logged) are not what is tested here
    env = {"REDIS_URL": redis.url, "RT_RECORD_URL": record.url, "CHANNELS_CAPACITY": "2000"}
    deploy = Deployment(platform, procs, build, env)
    webs = [deploy.web("web.1"), deploy.web("web.2", processes=2)]
    workers = [deploy.worker(f"worker.{i}") for i in (1, 2)]
    return deploy, webs, workers


def _run(load: RoomLoad, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run *scenario*; the room's sockets are closed even if it failed."""
    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(load.close())


def _each_job_once_nothing_doubled_nothing_closed(load: RoomLoad, record: RedisServer) -> None:
    counts = runtime_app.counts(record)
    assert {job: counts.get(job) for job in load.jobs} == dict.fromkeys(load.jobs, 1)
    assert load.duplicated() == {}
    assert load.closed() == {}


def _clean_logs(dynos: list[Dyno]) -> None:
    for dyno in dynos:
        output = dyno.process.output()
        assert dyno.process.is_running(), dyno.process.tail(80)
        assert "Traceback" not in output, output[-4000:]
        assert "never retrieved" not in output, output[-4000:]


@pytest.fixture
def fault_build(build_app: Callable[..., Build], web_engine: str) -> Build:
    build = build_app("runtime_app", **LOCAL_HOSTS, **engine_vars(web_engine))
    assert build.ok, build.compile.output if build.compile else build.detect.output
    return build


@pytest.mark.parametrize("seconds", [8.0])
def test_a_stall_loses_nothing(
    fault_build: Build,
    platform: Platform,
    procs: ProcessGroup,
    redis_factory: Callable[..., RedisServer],
    seconds: float,
) -> None:
    """The server stops answering mid-load (SIGSTOP), then carries on: every job once,
    every chat line and job reply delivered to every socket, no traceback, no socket closed,
    one line per process that noticed (commands wait for a stalled server rather than give
    up on it, which would lose what it pops and run writes twice)."""
    redis, record = redis_factory(), redis_factory()
    _, webs, workers = _deploy(fault_build, platform, procs, redis, record)
    load = RoomLoad({w.name: w.ws for w in webs})

    async def scenario() -> None:
        await load.join()
        steady = asyncio.ensure_future(load.steady(seconds + 3.0, 0.1, "stall"))
        await asyncio.sleep(2.0)
        await stall(redis, seconds)
        await steady
        assert await load.delivered(45), load.missing()
        await asyncio.sleep(1.0)  # a duplicate would show up now

    _run(load, scenario)
    assert len(load.jobs) > 100
    _each_job_once_nothing_doubled_nothing_closed(load, record)
    _clean_logs([*webs, *workers])
    noticed = [dyno.process.output().count(STALL_BEGAN) for dyno in [*webs, *workers]]
    assert sum(noticed) >= 1, "no process said Redis stalled"
    for dyno, count in zip([*webs, *workers], noticed, strict=True):
        assert count <= len(dyno.pids or [0]), dyno.process.tail(40)  # once per process
        assert OUTAGE_BEGAN not in dyno.process.output()  # waited for, not given up on


def test_a_restart_that_loses_every_group_heals_within_seconds(
    fault_build: Build,
    platform: Platform,
    procs: ProcessGroup,
    redis_factory: Callable[..., RedisServer],
) -> None:
    """Redis killed, and a fresh empty server on the same port 2 s later (a mini reboot):
    sockets that joined before it hear each other again across dynos within 5 s, a new
    socket reaches them too, and jobs sent after it run once each."""
    redis, record = redis_factory(), redis_factory()
    _, webs, workers = _deploy(fault_build, platform, procs, redis, record)
    load = RoomLoad({w.name: w.ws for w in webs})
    healed_after: list[float] = []

    async def scenario() -> None:
        old = await load.join()
        await load.say("before", by=old[0])
        assert await load.delivered(15), load.missing()
        await restart_empty(redis, down=2.0)
        # an old socket on web.2 -> old sockets on both dynos, until it gets through
        healed = await load.heard_again(old[-1], old, timeout=20)
        assert healed is not None, "chat never healed"
        healed_after.append(healed)
        new = await load.join("new", per_web=1)
        await load.say("from-a-new-socket", by=new[0])
        for number in range(20):
            await load.job(f"after-{number}", channel=("jobs", "sync-jobs")[number % 2])
        assert await load.delivered(30), load.missing()
        await asyncio.sleep(1.0)

    _run(load, scenario)
    assert healed_after[0] <= 5.0, healed_after
    _each_job_once_nothing_doubled_nothing_closed(load, record)
    _clean_logs([*webs, *workers])
    for web in webs:  # each socket's membership put back once, by the process holding it
        restored = re.findall(DATA_RESTORED + r".*put back (\d+) group", web.process.output())
        assert 1 <= len(restored) <= len(web.pids), web.process.tail(40)
        assert sum(map(int, restored)) == load.per_web, web.process.tail(40)
    print(f"\nhealed {healed_after[0]:.2f} s after the empty Redis came back")


def test_connections_killed_again_and_again_lose_and_double_nothing(
    fault_build: Build,
    platform: Platform,
    procs: ProcessGroup,
    redis_factory: Callable[..., RedisServer],
) -> None:
    """Every client connection of the dynos killed six times, 1.2 s apart, under load."""
    redis, record = redis_factory(), redis_factory()
    _, webs, workers = _deploy(fault_build, platform, procs, redis, record)
    load = RoomLoad({w.name: w.ws for w in webs})
    killed: list[int] = []

    async def scenario() -> None:
        await load.join()
        steady = asyncio.ensure_future(load.steady(8.5, 0.05, "kill"))
        for _ in range(6):
            await asyncio.sleep(1.2)
            killed.append(await asyncio.to_thread(kill_clients, redis))
        await steady
        assert await load.delivered(45), load.missing()
        await asyncio.sleep(1.0)

    _run(load, scenario)
    assert all(killed), killed
    assert len(load.jobs) > 100
    _each_job_once_nothing_doubled_nothing_closed(load, record)
    _clean_logs([*webs, *workers])
