"""Scaled workers process each background message once, and idle Redis readers survive.

Both defects are real on today's stock stack (duplicates across runworker processes:
channels_redis#163/#299; idle readers crashing with redis-py 8's 5 s socket_timeout:
channels_redis#422). bench/ reports the stock numbers side by side; these tests prove ours.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest

from tests.support import runtime_app
from tests.support.apps import LOCAL_HOSTS
from tests.support.deployment import Deployment, send_jobs_sync, wait_until
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import close_code, ws_connect

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
LOWEST_REDIS_PY = "redis==5.0.8"


@pytest.mark.parametrize(("layer", "rounds"), [("core", 3), ("pubsub", 1)])
def test_thousand_messages_from_two_web_dynos_are_each_processed_once_by_four_workers(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    redis_server: RedisServer,
    layer: str,
    rounds: int,
) -> None:
    build = build_app("runtime_app", **LOCAL_HOSTS)
    # 500 queued at once per dyno: above the default per-channel capacity of 100.
    env = {"REDIS_URL": redis_server.url, "CHANNELS_CAPACITY": "5000", "CHANNELS_LAYER": layer}
    deploy = Deployment(platform, procs, build, env)
    web1, web2 = deploy.web("web.1"), deploy.web("web.2")
    workers = [deploy.worker(f"worker.{i}") for i in range(1, 5)]
    expected = "pub/sub for groups" if layer == "pubsub" else "core, exactly-once"
    assert expected in web1.process.output()
    for round_number in range(rounds):
        redis_server.client().delete("rt:count", "rt:who:count", "rt:started", "rt:who:started")
        assert web1.get(f"/enqueue/?count=500&prefix=r{round_number}a")[0] == 200
        assert web2.get(f"/enqueue/?count=500&prefix=r{round_number}b")[0] == 200
        wait_until(lambda: len(runtime_app.counts(redis_server)) == 1000, 90, "1000 distinct jobs")
        time.sleep(0.5)  # a duplicate would show up as a count of 2 after the last one
        counts = runtime_app.counts(redis_server)
        duplicates = {k: v for k, v in counts.items() if v != 1}
        assert len(counts) == 1000 and not duplicates, (round_number, duplicates)
        handlers = {who.split(":")[0] for who in runtime_app.handlers(redis_server).values()}
        assert handlers == {"worker.1", "worker.2", "worker.3", "worker.4"}, handlers
    for worker in workers:
        assert worker.process.is_running()
        assert "Traceback" not in worker.process.output(), worker.process.tail()


def _redis_py_version(platform: Platform, procs: ProcessGroup, build: Build) -> str:
    probe = platform.start(
        procs,
        build,
        "run",
        dyno="run.1",
        command="python -c 'import redis; print(\"REDIS_PY\", redis.__version__)'",
    )
    assert probe.wait(60) == 0, probe.tail()
    return probe.output().split("REDIS_PY ", 1)[1].split()[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("redis_py", "idle_seconds"),
    [("bundled", 62), ("lowest", 21)],
    ids=["redis-py-8-idle-62s-with-websocket", "redis-py-5-idle-21s"],
)
def test_idle_readers_survive(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    redis_server: RedisServer,
    redis_py: str,
    idle_seconds: int,
) -> None:
    if redis_py == "lowest":
        build = build_app("runtime_app", fresh=True, **LOCAL_HOSTS)
        Deployment(platform, procs, build, {}).install(LOWEST_REDIS_PY)
        assert _redis_py_version(platform, procs, build) == LOWEST_REDIS_PY.split("==")[1]
    else:
        build = build_app("runtime_app", **LOCAL_HOSTS)
        assert int(_redis_py_version(platform, procs, build).split(".")[0]) >= 8
    deploy = Deployment(platform, procs, build, {"REDIS_URL": redis_server.url})
    web = deploy.web("web.1")
    workers = [deploy.worker("worker.1"), deploy.worker("worker.2")]

    async def scenario() -> None:
        conn = await ws_connect(f"{web.ws}/ws/group/idle/")
        assert "joined" in json.loads(await conn.recv())
        # Stay idle: no message either way (Daphne's pings are answered by the client).
        assert await close_code(conn, idle_seconds) is None, "the socket was closed while idle"
        assert web.get("/broadcast-sync/?group=idle&text=after-the-idle-period")[0] == 200
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = json.loads(await asyncio.wait_for(conn.recv(), max(remaining, 0.01)))
            if message.get("text") == "after-the-idle-period":
                break
        await conn.close()

    asyncio.run(scenario())
    send_jobs_sync(redis_server.url, "jobs", ["after-idle"])
    wait_until(
        lambda: runtime_app.counts(redis_server).get("after-idle") == 1, 30, "the job after idling"
    )
    for dyno in (web, *workers):
        assert dyno.process.is_running(), dyno.process.tail()
        output = dyno.process.output()
        assert "Traceback" not in output, output[-3000:]
        assert "TimeoutError" not in output
        assert "1011" not in output
