"""Runtime configuration against real Redis servers (issue: zero-code-change configuration).

Unmodified apps are built through bin/* and run as dynos; nothing in the apps reads
REDIS_URL unless the app itself does.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Callable

import pytest

from tests.support.apps import LOCAL_HOSTS
from tests.support.deployment import Deployment, wait_until
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.tls import TLSProxy
from tests.support.ws import ws_connect

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def _built(build_app: Callable[..., Build], name: str, **config: str) -> Build:
    build = build_app(name, **LOCAL_HOSTS, **config)
    assert build.ok, build.compile.output if build.compile else build.detect.output
    return build


async def _recv_until(conn, predicate, timeout: float = 15.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.01)
        message = json.loads(await asyncio.wait_for(conn.recv(), remaining))
        if predicate(message):
            return dict(message)


def test_tutorial_in_memory_settings_deliver_across_two_web_processes_with_redis_url(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    redis_server: RedisServer,
) -> None:
    build = _built(build_app, "tutorial")
    assert platform.run_release(build).returncode == 0
    deploy = Deployment(platform, procs, build, {"REDIS_URL": redis_server.url})
    web1, web2 = deploy.web("web.1"), deploy.web("web.2")
    assert "InMemoryChannelLayer" in (build.app_dir / "mysite" / "settings.py").read_text()
    assert "channels_redis core, exactly-once" in web1.process.output()

    async def scenario() -> None:
        alice = await ws_connect(f"{web1.ws}/ws/chat/lobby/")
        bob = await ws_connect(f"{web2.ws}/ws/chat/lobby/")
        await alice.send(json.dumps({"message": "across dynos"}))
        got = await _recv_until(bob, lambda m: m.get("message") == "across dynos")
        assert got == {"message": "across dynos"}
        await alice.close()
        await bob.close()

    asyncio.run(scenario())


def test_two_redis_shards_deliver_and_share_one_ring(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    redis_factory: Callable[..., RedisServer],
) -> None:
    first, second = redis_factory(), redis_factory()
    build = _built(build_app, "runtime_app")
    shards = {"CHANNELS_REDIS_URLS": f"{first.url},{second.url}", "RT_RECORD_URL": first.url}
    deploy = Deployment(platform, procs, build, shards)
    web1, web2 = deploy.web("web.1"), deploy.web("web.2")
    deploy.worker("worker.1")
    deploy.worker("worker.2")
    assert "2 hosts" in web1.process.output()
    groups = [f"room{i}" for i in range(12)]

    async def scenario() -> None:
        conns = []
        for index, group in enumerate(groups):
            web = web1 if index % 2 else web2
            conn = await ws_connect(f"{web.ws}/ws/group/{group}/")
            assert "joined" in json.loads(await conn.recv())
            conns.append(conn)
        # group keys are spread by the hash ring: both servers hold some
        assert first.keys("asgi:group:*") and second.keys("asgi:group:*")
        for group, conn in zip(groups, conns, strict=True):
            sender = web2 if groups.index(group) % 2 else web1  # the other dyno
            assert sender.get(f"/broadcast-sync/?group={group}&text=hi-{group}")[0] == 200
            await _recv_until(conn, lambda m, g=group: m.get("text") == f"hi-{g}")
        for conn in conns:
            await conn.close()

    asyncio.run(scenario())
    assert web1.get("/enqueue/?count=20&prefix=s1")[0] == 200
    assert web2.get("/enqueue/?count=20&prefix=s2")[0] == 200
    counts = wait_until(
        lambda: (c := first.client().hgetall("rt:count")) and len(c) == 40 and c, 30, "40 jobs"
    )
    assert {int(v) for v in counts.values()} == {1}

    ring_probe = textwrap.dedent(
        """
        import django, json; django.setup()
        from channels.layers import get_channel_layer
        layer = get_channel_layer()
        print("RING", json.dumps([[h["address"] for h in layer.hosts],
              [layer.consistent_hash(f"group{i}") for i in range(200)]]))
        """
    )
    command = f"python -c '{ring_probe}'"
    rings = []
    for dyno in ("run.1", "run.2"):
        proc = platform.start(
            procs,
            build,
            "run",
            dyno=dyno,
            command=command,
            env={**shards, "DJANGO_SETTINGS_MODULE": "rt.settings"},
        )
        assert proc.wait(60) == 0, proc.tail()
        rings.append(proc.output().split("RING ", 1)[1].strip())
    assert rings[0] == rings[1]
    hosts, slots = json.loads(rings[0])
    assert hosts == [first.url, second.url]
    assert set(slots) == {0, 1}


def test_heroku_rediss_with_self_signed_certificate(
    build_app: Callable[..., Build], platform: Platform, procs: ProcessGroup, tls_redis: TLSProxy
) -> None:
    build = _built(build_app, "runtime_app")
    assert tls_redis.url.startswith("rediss://")
    deploy = Deployment(platform, procs, build, {"REDIS_URL": tls_redis.url})

    # On a dyno: certificate verification is skipped as Heroku requires, and it works.
    web = deploy.web("web.1")
    deploy.worker("worker.1")
    assert "TLS verification off" in web.process.output()

    async def scenario() -> None:
        conn = await ws_connect(f"{web.ws}/ws/group/tls/")
        assert "joined" in json.loads(await conn.recv())
        await conn.send(json.dumps({"broadcast": "over tls"}))
        await _recv_until(conn, lambda m: m.get("text") == "over tls")
        await conn.send(json.dumps({"job": "tls-job"}))
        await _recv_until(conn, lambda m: m.get("text") == "done tls-job")
        await conn.close()

    asyncio.run(scenario())

    # Not on Heroku and no opt-out: refuse, saying which variable to set.
    for process_type in ("web", "worker"):
        extra = {"PORT": "0"} if process_type == "web" else {}
        proc = platform.start(
            procs, build, process_type, dyno="", env={"REDIS_URL": tls_redis.url, **extra}
        )
        assert proc.wait(60) == 1, proc.tail()
        output = proc.output()
        assert "CHANNELS_REDIS_TLS_VERIFY=false" in output
        assert "CERTIFICATE_VERIFY_FAILED" in output
        assert "Traceback" not in output

    # The documented opt-out works off Heroku too.
    local = Deployment(
        platform, procs, build, {"REDIS_URL": tls_redis.url, "CHANNELS_REDIS_TLS_VERIFY": "false"}
    )
    web_local = local.web("")
    assert web_local.get("/enqueue/?count=1&prefix=local")[0] == 200


def test_an_untrusted_redis_certificate_stops_every_web_process_with_the_fix(
    engine_build: Build, platform: Platform, procs: ProcessGroup, tls_redis: TLSProxy
) -> None:
    # Off Heroku, verification is on: each engine, alone or pre-forked, exits 1 once its
    # start-up probe meets the self-signed certificate, and says which variable to set. No
    # retries (waiting never makes a certificate trusted), no restarts of pre-forked ones.
    for processes in ("1", "2"):
        env = {"REDIS_URL": tls_redis.url, "PORT": "0", "WEB_CONCURRENCY": processes}
        proc = platform.start(procs, engine_build, "web", dyno="", env=env)
        assert proc.wait(60) == 1, proc.tail()
        output = proc.output()
        assert "CERTIFICATE_VERIFY_FAILED" in output and "CHANNELS_REDIS_TLS_VERIFY=false" in output
        assert "Traceback" not in output and "retrying" not in output, output
        assert "restarting it" not in output, output
        if processes == "2":
            assert "cannot start because of the error above" in output, output


def test_no_password_from_any_url_reaches_logs(
    platform: Platform, procs: ProcessGroup, redis_factory: Callable[..., RedisServer]
) -> None:
    from tests.support.paths import FIXTURES

    redis_password = "redis-pw-Zq81xK"
    db_password = "db-pw-Lm42vT"
    secret_key = "django-secret-Hn55pR"
    redis = redis_factory(password=redis_password)
    config = {
        **LOCAL_HOSTS,
        "REDIS_URL": redis.url,
        "DATABASE_URL": f"postgres://app:{db_password}@db.example.com:5432/app",
        "DJANGO_SECRET_KEY": secret_key,
    }
    build = platform.build(FIXTURES / "runtime_app", config)
    assert build.ok, build.compile.output if build.compile else ""
    deploy = Deployment(platform, procs, build, {})
    web = deploy.web("web.1", processes=2)
    worker = deploy.worker("worker.1")
    assert web.get("/enqueue/?count=3&prefix=pw")[0] == 200
    wait_until(lambda: len(redis.client().hgetall("rt:count")) == 3, 30, "jobs")
    outputs = {
        "compile": build.compile.output if build.compile else "",
        "release": build.release.output if build.release else "",
        "build.json": (build.app_dir / ".channels-buildpack" / "build.json").read_text(),
        "web": web.process.output(),
        "worker": worker.process.output(),
    }
    assert "channels-buildpack: settings:" in outputs["web"]
    assert "redis://:***@127.0.0.1" in outputs["web"]
    assert "postgres://app:***@db.example.com" in outputs["web"]
    for where, text in outputs.items():
        for secret in (redis_password, db_password, secret_key):
            assert secret not in text, f"{secret} leaked into {where}"
