"""Django 6 on Heroku's default Python (3.14), through both platforms and both web engines.

``tests/fixtures/django6`` is the Channels tutorial on ``django>=6.0`` with
``.python-version`` = 3.14, what heroku/python gives a new app that names no version. It is
built by the classic emulation (``bin/compile``) and by the CNB one (``bin/build``), with
Daphne and with uvicorn (``CHANNELS_WEB_SERVER`` set before the build, as a user would),
then served by one dyno (in-memory layer: the chat round trip inside one process) and by
two web dynos sharing Redis (a message from a socket on one dyno reaches a socket on the
other; the first dyno runs two processes), and stopped with SIGTERM (close 1012, exit 0).

On a machine without Python 3.14 every test here is skipped with the reason:
``python3 dev.py test --python 3.14`` runs them in a Debian sid root.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.apps import engine_vars, fixture_meta
from tests.support.cnb_platform import CnbPlatform
from tests.support.deployment import Deployment
from tests.support.paths import FIXTURES
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import assert_fixture_sockets, close_code, http_get, ws_connect

pytestmark = [pytest.mark.e2e, pytest.mark.smoke]
APP = "django6"
HOSTS = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]"}
PLATFORMS = ("classic", "cnb")


@pytest.fixture(scope="module")
def cnb(tmp_path_factory: pytest.TempPathFactory) -> CnbPlatform:
    return CnbPlatform(tmp_path_factory.mktemp("cnb6"))


@pytest.fixture(params=PLATFORMS)
def platform_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


_cnb_builds: dict[str, Any] = {}


@pytest.fixture
def built(
    platform_kind: str,
    web_engine: str,
    build_app: Callable[..., Build],
    platform: Platform,
    cnb: CnbPlatform,
) -> tuple[Any, Any]:
    """``(platform, build)`` of the fixture for this platform and engine (built once)."""
    config = {**HOSTS, **engine_vars(web_engine)}
    try:
        if platform_kind == "classic":
            build = build_app(APP, **config)
            assert build.ok, build.compile.output if build.compile else build.detect.output
            return platform, build
        if web_engine not in _cnb_builds:
            _cnb_builds[web_engine] = cnb.build(FIXTURES / APP, config)
    except LookupError as exc:  # no Python 3.14 here (classic emulation)
        pytest.skip(f"{exc}: python3 dev.py test --python 3.14 runs it")
    build = _cnb_builds[web_engine]
    if "no Python for" in build.output("heroku/python"):
        pytest.skip("no Python 3.14 on this machine: python3 dev.py test --python 3.14 runs it")
    assert build.built, build.output() or build.output("heroku/python")
    return cnb, build


def _python(build: Any) -> str:
    """The Python the app runs on after the build (the slug's, or heroku/python's venv)."""
    if isinstance(build, Build):
        return str(build.app_dir / ".heroku" / "python" / "bin" / "python")
    return str(build.layers / "heroku_python" / "venv" / "bin" / "python")


def test_django6_builds_on_python_3_14_with_channels_4_3(built: tuple[Any, Any]) -> None:
    _platform, build = built
    probe = (
        "import sys, django, channels, daphne; "
        "print('%d.%d' % sys.version_info[:2], django.__version__, channels.__version__)"
    )
    result = subprocess.run(
        [_python(build), "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    python, django, channels = result.stdout.split()
    assert python == "3.14"
    assert django.startswith("6."), django
    assert channels.startswith("4.3."), channels


def test_django6_single_dyno_serves_http_and_websockets(
    built: tuple[Any, Any], procs: ProcessGroup, web_engine: str
) -> None:
    platform, build = built
    deploy = Deployment(platform, procs, build, {"PYTHONWARNINGS": "default::DeprecationWarning"})
    web = deploy.web("web.1")
    meta = fixture_meta(APP)
    status, body = http_get(f"http://127.0.0.1:{web.port}{meta['http']['path']}")
    assert status == 200 and "ok" in body
    assert_fixture_sockets(meta, web.port or 0)
    output = web.process.output()
    assert f"web: {'Daphne' if web_engine == 'daphne' else 'uvicorn'} " in output, output
    assert "mode single-process" in output, output
    assert web.process.stop(timeout=30) == 0, web.process.tail()
    assert "Traceback" not in web.process.output(), web.process.tail()
    ours = re.findall(r"/buildpack/\S+\.py:\d+: \w*DeprecationWarning.*", web.process.output())
    assert ours == [], "our code calls an API this Python deprecates"


@pytest.mark.redis
def test_django6_two_dynos_share_a_chat_room_over_redis_and_stop_gracefully(
    built: tuple[Any, Any], procs: ProcessGroup, redis_server: RedisServer
) -> None:
    platform, build = built
    deploy = Deployment(platform, procs, build, {"REDIS_URL": redis_server.url})
    web1 = deploy.web("web.1", processes=2)
    web2 = deploy.web("web.2")

    async def scenario() -> tuple[dict[str, str], int | None, int, int]:
        alice = await ws_connect(f"{web1.ws}/ws/chat/lobby/")
        bob = await ws_connect(f"{web2.ws}/ws/chat/lobby/")
        await alice.send(json.dumps({"message": "across dynos"}))
        received = json.loads(await asyncio.wait_for(bob.recv(), 15))
        web1.process.signal(signal.SIGTERM)
        code = await close_code(alice, 30)
        exit_code = await asyncio.to_thread(web1.process.wait, 30)
        members = redis_server.client().zcard(b"asgi:group:chat_lobby")
        await bob.close()
        return received, code, exit_code, members

    received, code, exit_code, members = asyncio.run(scenario())
    assert received == {"message": "across dynos"}
    assert (code, exit_code) == (1012, 0), web1.process.tail()
    assert members == 1  # bob's; alice's membership went with disconnect()
    assert web2.process.stop(timeout=30) == 0, web2.process.tail()
    for dyno in (web1, web2):
        assert "Traceback" not in dyno.process.output(), dyno.process.tail()


def test_django6_fixture_asks_for_herokus_default_python() -> None:
    assert (FIXTURES / APP / ".python-version").read_text().strip() == "3.14"
    assert (FIXTURES / APP / "requirements.txt").read_text().startswith("django>=6.0")
