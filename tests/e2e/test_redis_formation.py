"""Issue 11 acceptance: the default deployment fits Heroku Key-Value Store mini (20 clients).

``redis-server --maxclients 20``; a release phase, web.1 + web.2 at ``WEB_CONCURRENCY=2``,
worker.1..4, and an app that keeps 2 Redis clients of its own open: 1,000 background jobs
sent from WebSocket clients on both web dynos are each handled exactly once, a group
message crosses web dynos, no WebSocket is closed 1011, no traceback in any log, and Redis
never has more than 20 clients (it refuses the 21st: the real check is that nothing was
lost when it did). Then a refusal window: Redis refuses every new client for a few
seconds (limit lowered, every connection of the dynos dropped, limit raised again), and
the jobs sent meanwhile are delivered after it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Callable

import pytest

from tests.support import runtime_app
from tests.support.apps import LOCAL_HOSTS
from tests.support.deployment import Deployment, wait_until
from tests.support.formation import Formation, WebDyno
from tests.support.platform import Build, Platform
from tests.support.procs import ManagedProcess, ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import observed_close_code, open_many

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.slow]
MAXCLIENTS = 20


@pytest.fixture
def small_redis(tmp_path: object) -> object:
    from pathlib import Path

    server = RedisServer(extra_args=["--maxclients", str(MAXCLIENTS)], log_dir=Path(str(tmp_path)))
    try:
        yield server.start()
    finally:
        server.stop()


def _deploy(
    build: Build, platform: Platform, procs: ProcessGroup, redis: RedisServer, record: RedisServer
) -> Deployment:
    env = {
        "REDIS_URL": redis.url,
        "RT_RECORD_URL": record.url,  # the consumers' bookkeeping is not the layer's
        "CHANNELS_CAPACITY": "2000",
    }
    return Deployment(platform, procs, build, env)


def _release(deploy: Deployment) -> Callable[[], ManagedProcess]:
    def start() -> ManagedProcess:
        database = f"sqlite:///{deploy.build.app_dir / 'formation.sqlite3'}"
        return deploy.platform.start(
            deploy.procs, deploy.build, "release", dyno="release.1",
            command="channels-buildpack migrate", env={**deploy.env, "DATABASE_URL": database},
        )  # fmt: skip

    return start


@pytest.mark.parametrize("concurrency", [1, 8], ids=["concurrency-1", "concurrency-8"])
def test_release_two_web_dynos_and_four_workers_fit_twenty_clients(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    small_redis: RedisServer,
    redis_factory: Callable[..., RedisServer],
    concurrency: int,
) -> None:
    build = build_app("runtime_app", **LOCAL_HOSTS)
    record = redis_factory()
    deploy = _deploy(build, platform, procs, small_redis, record)
    deploy.env["CHANNELS_WORKER_CONCURRENCY"] = str(concurrency)
    webs = [deploy.web(f"web.{i}", processes=2) for i in (1, 2)]
    workers = [deploy.worker(f"worker.{i}") for i in range(1, 5)]
    formation = Formation(
        small_redis,
        record,
        [WebDyno(w.name, w.ws, w.process) for w in webs],
        [w.process for w in workers],
        jobs=1000,
    )
    result = formation.run(release=_release(deploy))
    summary = result.summary()
    assert result.release_code == 0
    assert result.sent == 1000 and result.failed_handshakes == 0, summary
    assert len(result.counts) == 1000 and result.once == 1000, summary
    assert result.group_crossed, summary
    assert not result.closes, f"WebSockets closed by the server: {summary}"
    assert result.server_peak <= MAXCLIENTS, summary
    # On a server this small every process keeps to 2 clients: the formation fits at peak.
    assert all(result.dyno_peaks[w.name] <= 2 * 2 for w in webs), summary
    assert all(result.dyno_peaks[f"worker.{i}"] <= 2 for i in range(1, 5)), summary
    assert result.dyno_peaks["release"] == 0, summary
    for dyno in (*webs, *workers):
        assert dyno.process.is_running(), dyno.process.tail()
        assert "Traceback" not in dyno.process.output(), dyno.process.tail(80)
    print(f"\nformation, concurrency {concurrency}: {json.dumps(summary)}")


def test_jobs_sent_while_redis_refuses_new_clients_arrive_after_it(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    small_redis: RedisServer,
    redis_factory: Callable[..., RedisServer],
) -> None:
    build = build_app("runtime_app", **LOCAL_HOSTS)
    record = redis_factory()
    deploy = _deploy(build, platform, procs, small_redis, record)
    web = deploy.web("web.1", processes=2)
    workers = [deploy.worker(f"worker.{i}") for i in (1, 2)]
    admin = small_redis.client()
    admin.ping()

    async def scenario() -> list[int | None]:
        old = await open_many(f"{web.ws}/ws/group/before/", 10)
        # Refuse every new client and drop every existing one (but ours): the dynos must
        # reconnect, and cannot, for 3 s (Daphne gives a handshake 5 s).
        admin.config_set("maxclients", 1)
        admin.client_kill_filter(_type="normal", skipme=True)
        refused_from = time.monotonic()
        await asyncio.gather(*(c.send(json.dumps({"job": f"old-{i}"})) for i, c in enumerate(old)))
        shell = _one_off_sender(deploy, 50)
        opening = asyncio.ensure_future(open_many(f"{web.ws}/ws/group/during/", 20))  # group_add
        await asyncio.sleep(max(0.0, refused_from + 3.0 - time.monotonic()))
        assert len(runtime_app.counts(record)) == 0, "nothing could have reached Redis yet"
        admin.config_set("maxclients", MAXCLIENTS)
        new = await opening
        await asyncio.gather(*(c.send(json.dumps({"job": f"new-{i}"})) for i, c in enumerate(new)))
        await asyncio.to_thread(
            wait_until, lambda: len(runtime_app.counts(record)) == 80, 60, "80 jobs"
        )
        assert shell.wait(60) == 0, shell.tail()
        await asyncio.sleep(1.0)
        codes = [observed_close_code(c) for c in old + new]
        await asyncio.gather(*(c.close() for c in old + new), return_exceptions=True)
        return codes

    codes = asyncio.run(scenario())
    counts = runtime_app.counts(record)
    assert len(counts) == 80 and set(counts.values()) == {1}, counts
    assert codes == [None] * 30, "no socket was closed (1011) during the refusal"
    assert int(admin.info("stats")["rejected_connections"]) > 0
    for dyno in (web, *workers):
        output = dyno.process.output()
        assert "Traceback" not in output, output[-3000:]
        assert "never retrieved" not in output
    assert "max number of clients reached" in workers[0].process.output() + web.process.output()


def _one_off_sender(deploy: Deployment, jobs: int) -> ManagedProcess:
    """``heroku run``: a shell that sends jobs while Redis refuses it."""
    code = (
        "import asyncio\n"
        "from channels.layers import get_channel_layer\n"
        "async def send():\n"
        "    layer = get_channel_layer()\n"
        f"    for i in range({jobs}):\n"
        "        await layer.send('jobs', {'type': 'job.run', 'id': f'shell-{i}'})\n"
        "asyncio.run(send())\n"
    )
    command = f"python manage.py shell -c {shlex.quote(code)}"
    return deploy.platform.start(
        deploy.procs, deploy.build, "run", dyno="run.1", command=command, env=deploy.env
    )


def test_start_up_says_when_the_formation_in_view_needs_more_clients(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    redis_factory: Callable[..., RedisServer],
) -> None:
    """worker.12 on a 20-client Redis: one line with what, why and the fix; and the budget
    line. A server that answers neither INFO nor CONFIG (both disabled) gets neither line,
    and the worker serves as usual."""
    build = build_app("runtime_app", **LOCAL_HOSTS)
    small = redis_factory(extra_args=["--maxclients", str(MAXCLIENTS)])
    disabled = ["--rename-command", "CONFIG", "", "--rename-command", "INFO", ""]
    hidden = redis_factory(extra_args=["--maxclients", "20", *disabled])
    worker = Deployment(platform, procs, build, {"REDIS_URL": small.url}).worker("worker.12")
    quiet = Deployment(platform, procs, build, {"REDIS_URL": hidden.url}).worker("worker.12")
    output = worker.process.output()
    assert "allows 20 Redis clients but web x1 + worker x12 needs about 26 at rest" in output
    assert "Fix: fewer processes (heroku ps:scale, WEB_CONCURRENCY), a larger Redis plan" in output
    assert "Redis allows 20 clients, so each process opens at most 2" in output
    assert sum("WARNING" in line for line in output.splitlines()) == 1, output
    asyncio.run(_send_one(hidden.url))
    wait_until(lambda: hidden.client().hget("rt:count", "quiet-job") == b"1", 30, "the job")
    output = quiet.process.output()
    assert "Redis clients" not in output and "opens at most" not in output, output
    for dyno in (worker, quiet):
        assert "Traceback" not in dyno.process.output()


async def _send_one(url: str) -> None:
    from buildpack.runtime.layers.redis import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[url])
    await layer.send("jobs", {"type": "job.run", "id": "quiet-job"})
    await layer.close_pools()
