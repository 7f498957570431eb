"""The same Procfile locally with honcho: with and without Redis, several workers, clean stop.

honcho stops every process as soon as one exits, so each generated process must stay up
when it has nothing to do (idle worker without Redis, release after migrating).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.apps import engine_vars, fixture_meta
from tests.support.platform import Build, system_path
from tests.support.ports import free_port, wait_for_port
from tests.support.procs import ManagedProcess, ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import ws_roundtrip

pytestmark = [pytest.mark.e2e]
APP = "background_channels"


def _leftovers(app_dir: Path) -> list[str]:
    """Live processes whose command line mentions the app directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(app_dir) in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline}")
    return found


def _honcho(procs: ProcessGroup, build: Build, port: int, *args: str) -> ManagedProcess:
    app = build.app_dir
    env = {
        "PATH": f"{app / '.heroku' / 'python' / 'bin'}{os.pathsep}{system_path()}",
        "HOME": str(app.parent),
        "LANG": "C.UTF-8",
    }
    command = [sys.executable, "-m", "honcho", "start", "-p", str(port), *args]
    return procs.start(command, env=env, cwd=app, name="honcho")


def _stop_and_check(honcho: ManagedProcess, app_dir: Path) -> None:
    honcho.signal(signal.SIGINT)  # Ctrl-C
    honcho.wait(40)
    deadline = time.monotonic() + 5
    while _leftovers(app_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _leftovers(app_dir) == []
    assert "Traceback" not in honcho.output(), honcho.tail(120)


def _round_trips(port: int) -> None:
    meta = fixture_meta(APP)
    for spec in (meta["websocket"], meta["background"]):
        url = f"ws://127.0.0.1:{port}{spec['path']}"
        reply = asyncio.run(ws_roundtrip(url, spec["send"], spec["expect_contains"], timeout=30))
        assert spec["expect_contains"] in reply


@pytest.fixture
def local_build(build_app: Callable[..., Build], web_engine: str) -> Build:
    """The app built with *web_engine* chosen; its ``.env`` starts with the same choice."""
    build = build_app(APP, DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost", **engine_vars(web_engine))
    assert build.ok
    assert set(build.procfile()) == {"web", "worker", "release"}
    return build


def _dotenv(build: Build, *lines: str) -> None:
    engine = [f"{k}={v}" for k, v in build.config_vars.items() if k == "CHANNELS_WEB_SERVER"]
    text = "\n".join(["DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost", *engine, *lines]) + "\n"
    (build.app_dir / ".env").write_text(text)


def test_honcho_start_without_redis(procs: ProcessGroup, local_build: Build) -> None:
    _dotenv(local_build)
    port = free_port()
    honcho = _honcho(procs, local_build, port)
    wait_for_port(port, proc=honcho, timeout=60)
    honcho.wait_for_output(r"web\.1 .*accepting connections", timeout=60)
    honcho.wait_for_output(r"release\.1 .*migrations applied; staying up idle", timeout=60)
    honcho.wait_for_output(r"worker\.1 .*stays idle", timeout=60)
    _round_trips(port)
    output = honcho.output()
    assert "mode single-process (in-memory layer; background channels emails, thumbnails" in output
    engine = local_build.config_vars.get("CHANNELS_WEB_SERVER", "daphne")
    assert f"web: {'Daphne' if engine == 'daphne' else engine} " in output
    assert honcho.is_running()
    _stop_and_check(honcho, local_build.app_dir)


@pytest.mark.redis
def test_honcho_start_with_redis_and_four_workers(
    procs: ProcessGroup, local_build: Build, redis_server: RedisServer
) -> None:
    _dotenv(local_build, f"REDIS_URL={redis_server.url}")
    port = free_port()
    honcho = _honcho(procs, local_build, port, "-c", "worker=4")
    wait_for_port(port, proc=honcho, timeout=60)
    honcho.wait_for_output(r"web\.1 .*accepting connections", timeout=60)
    for index in range(1, 5):
        honcho.wait_for_output(rf"worker\.{index} .*serving emails, thumbnails", timeout=60)
    _round_trips(port)
    output = honcho.output()
    assert "mode scaled" in output
    assert len(set(re.findall(r"worker: serving .* pid (\d+)", output))) == 4
    _stop_and_check(honcho, local_build.app_dir)
