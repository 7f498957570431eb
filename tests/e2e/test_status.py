"""``status``, heartbeats and the autoscaling endpoint against real dynos and a real Redis.

The runtime test app (``tests/fixtures/runtime_app``) serves ``jobs``, ``sync-jobs`` and
``thumbs``; ``/enqueue/?count=N`` queues jobs, and workers record them in ``rt:count``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import runtime_app
from tests.support.apps import LOCAL_HOSTS, engine_vars
from tests.support.deployment import Deployment, Dyno, wait_until
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import http_get

pytestmark = [pytest.mark.e2e]
METRICS = "/.channels-buildpack/metrics"
BEAT_KEYS = "asgi:cbp:process:*"


def json_document(output: str) -> dict[str, Any]:
    """The JSON document in a process's output (stderr lines may surround it)."""
    lines = output.splitlines()
    start = lines.index("{")
    end = len(lines) - lines[::-1].index("}")
    data: dict[str, Any] = json.loads("\n".join(lines[start:end]))
    return data


def one_off(
    platform: Platform, procs: ProcessGroup, build: Build, env: dict[str, str], command: str
) -> tuple[int, str]:
    """``heroku run <command>``: a one-off dyno, run to completion."""
    proc = platform.start(procs, build, "run", dyno="run.1", env=env, command=command)
    code = proc.wait(90)
    return code, proc.output()


def metrics(web: Dyno, token: str) -> tuple[int, str]:
    return (
        web.get(METRICS, timeout=15)
        if not token
        else http_get(web.http + METRICS, timeout=15, headers={"Authorization": f"Bearer {token}"})
    )


def depth(web: Dyno, token: str, channel: str = "jobs") -> int:
    status, body = metrics(web, token)
    assert status == 200, body
    return int(json.loads(body)["channels"][channel]["depth"])


def beats(redis: RedisServer) -> set[str]:
    return {k.decode().split(":")[3] for k in redis.keys(BEAT_KEYS)}


@pytest.mark.redis
def test_status_heartbeats_and_the_autoscaling_endpoint_follow_the_workers(
    platform: Platform, procs: ProcessGroup, runtime_build: Build, redis_server: RedisServer
) -> None:
    token, hirefire = f"metrics-{secrets.token_hex(12)}", f"hf-{secrets.token_hex(12)}"
    env = {
        "REDIS_URL": redis_server.url,
        "CHANNELS_HEARTBEAT_SECONDS": "0.5",
        "CHANNELS_METRICS_TOKEN": token,
        "HIREFIRE_TOKEN": hirefire,
    }
    deploy = Deployment(platform, procs, runtime_build, env)
    web = deploy.web("web.1")
    worker = deploy.worker("worker.1")
    wait_until(lambda: {"web.1", "worker.1"} <= beats(redis_server), 10, "heartbeats appear")

    code, output = one_off(platform, procs, runtime_build, env, "channels-buildpack status --json")
    assert code == 0, output
    state = json_document(output)
    by_dyno = {p["dyno"]: p for p in state["processes"]}
    assert by_dyno["worker.1"]["channels"] == ["jobs", "sync-jobs", "thumbs"]
    assert by_dyno["web.1"]["role"] == "web"
    assert {c["name"] for c in state["channels"]} >= {"jobs", "sync-jobs", "thumbs"}

    worker.process.stop()  # a clean stop deletes the heartbeat at once
    assert "worker.1" not in beats(redis_server)
    assert web.get("/enqueue/?count=12&prefix=a")[0] == 200
    assert depth(web, token) == 12
    assert web.get("/enqueue/?count=8&prefix=b")[0] == 200
    assert depth(web, token) == 20, "depth grows while no worker runs"
    assert http_get(f"{web.http}/hirefire/{hirefire}/info")[1] == '[{"name":"worker","value":20}]'

    code, output = one_off(platform, procs, runtime_build, env, "channels-buildpack status")
    assert code == 0, output
    assert "jobs" in output and " 20 " in output
    assert "'jobs' has messages but no live process serves it" in output
    assert redis_server.password is None and redis_server.url in output  # no secret here

    assert metrics(web, "")[0] == 401
    assert metrics(web, token[:-1] + "x")[0] == 401
    assert http_get(f"{web.http}/hirefire/{hirefire[:-1]}x/info")[0] == 404

    worker2 = deploy.worker("worker.2")
    wait_until(lambda: depth(web, token) == 0, 30, "the queue drains when a worker starts")
    wait_until(lambda: len(runtime_app.counts(redis_server)) == 20, 30, "20 jobs handled")
    assert "worker.2" in beats(redis_server)
    worker2.process.kill()  # dies without a word: its heartbeat expires (3 x 0.5 s)
    wait_until(lambda: "worker.2" not in beats(redis_server), 10, "the heartbeat expires")

    logs = web.process.output() + worker.process.output() + worker2.process.output()
    assert token not in logs and hirefire not in logs
    assert "/hirefire/***/info" in web.process.output()


@pytest.mark.redis
def test_web_heartbeat_goes_on_a_graceful_stop_and_the_hirefire_token_is_masked(
    platform: Platform,
    procs: ProcessGroup,
    build_app: Callable[..., Build],
    redis_server: RedisServer,
    web_engine: str,
) -> None:
    """Both web engines: the heartbeat is deleted when the stop begins (not left to expire
    30 s later), and the token in HireFire's URL never reaches the access log."""
    build = build_app("runtime_app", **LOCAL_HOSTS, **engine_vars(web_engine))
    hirefire = f"hf-{secrets.token_hex(12)}"
    env = {"REDIS_URL": redis_server.url, "HIREFIRE_TOKEN": hirefire}
    web = Deployment(platform, procs, build, env).web("web.1")
    wait_until(lambda: "web.1" in beats(redis_server), 15, "the web heartbeat appears")
    assert http_get(f"{web.http}/hirefire/{hirefire}/info")[0] == 200
    assert web.process.stop(timeout=30) == 0, web.process.tail()
    assert "web.1" not in beats(redis_server)  # deleted, not expired (TTL 30 s)
    output = web.process.output()
    assert hirefire not in output and "/hirefire/***/info" in output, web.process.tail()
    assert "Traceback" not in output


@pytest.mark.redis
def test_status_sums_shards_and_reports_clients_memory_and_eviction(
    redis_factory: Any, tmp_path: Path
) -> None:
    from buildpack.runtime.layers.redis import RedisChannelLayer

    evicting = redis_factory(
        extra_args=[
            "--maxclients",
            "37",
            "--maxmemory",
            "64mb",
            "--maxmemory-policy",
            "allkeys-lru",
        ]
    )
    other = redis_factory()

    async def fill() -> None:
        layer = RedisChannelLayer(hosts=[evicting.url, other.url])
        for index in range(10):  # normal channels go round-robin over the shards
            await layer.send("jobs", {"type": "job.run", "id": index})
        await layer.group_add("room", "specific.abc!def")
        await layer.close_pools()

    asyncio.run(fill())
    held = [evicting.client() for _ in range(3)]
    for client in held:
        client.ping()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CHANNELS_REDIS_URLS": f"{evicting.url},{other.url}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "buildpack", "status", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    jobs = next(c for c in state["channels"] if c["name"] == "jobs")
    assert jobs["depth"] == 10 and jobs["per_shard"] == [5, 5]
    assert state["group_count"] == 1 and state["groups"][0]["members"] == 1
    first = state["servers"][0]
    reported = evicting.client().info("clients")
    assert first["maxclients"] == 37 == reported["maxclients"]
    assert first["clients"] == len(held) + 1, "status holds exactly one connection per shard"
    assert first["policy"] == "allkeys-lru" and first["evicting"] is True
    assert first["maxmemory"] == 64 * 1024 * 1024
    assert any("evicts keys" in w for w in state["warnings"])
    assert state["servers"][1]["evicting"] is False


def test_memory_layer_status_says_where_the_state_is_and_asks_the_web_process(
    platform: Platform, procs: ProcessGroup, runtime_build: Build
) -> None:
    token = f"metrics-{secrets.token_hex(12)}"
    deploy = Deployment(platform, procs, runtime_build, {"CHANNELS_METRICS_TOKEN": token})
    web = deploy.web("web.1")
    plain = deploy.web("web.2", env={"CHANNELS_METRICS_TOKEN": ""})
    assert plain.get(METRICS)[0] == 404, "off by default: the app answers, not the endpoint"
    assert http_get(plain.http + METRICS, headers={"Authorization": f"Bearer {token}"})[0] == 404

    code, output = one_off(platform, procs, runtime_build, {}, "channels-buildpack status")
    assert code == 0, output
    assert "in-memory" in output and "cannot see them" in output

    assert web.get("/enqueue/?count=4&seconds=1&prefix=m")[0] == 200
    env = {"CHANNELS_METRICS_TOKEN": token}
    command = f"channels-buildpack status --json --url {web.http}"
    code, output = one_off(platform, procs, runtime_build, env, command)
    assert code == 0, output
    assert json_document(output)["channels"]["jobs"]["depth"] >= 1
    assert token not in output
    wait_until(lambda: depth(web, token) == 0, 20, "the web process drains its own jobs")
    code, output = one_off(platform, procs, runtime_build, {}, command)
    assert code == 1 and "needs the web process's token" in output
