"""The buildpack as a Cloud Native Buildpack, end to end, on the lifecycle emulation.

Group: heroku/python (stand-in) -> channels-buildpack -> heroku/procfile (stand-in,
optional). Each fixture that serves through the classic path is built with the real
``bin/detect`` and ``bin/build`` and launched from ``launch.toml`` the way
``/cnb/process/<type>`` does; then the same HTTP + WebSocket checks, Redis across
processes, graceful SIGTERM, a Procfile that wins, a cached rebuild, and the TOML we write
against the API 0.10 rules.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack import __version__
from buildpack.core.generate import runtime_defaults
from tests.support.apps import fixture_meta, fixture_names
from tests.support.cnb import check_process_entry, layer_types, tree_digest
from tests.support.cnb_platform import CnbBuild, CnbPlatform, path_with_only
from tests.support.deployment import Deployment, wait_until
from tests.support.paths import FIXTURES
from tests.support.platform import REPO
from tests.support.ports import free_port, wait_for_port
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import assert_fixture_sockets, close_code, http_get, ws_connect, ws_roundtrip

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.e2e
OURS = "channels-buildpack/channels"
LAYERS = "channels-buildpack_channels"
SERVED = [n for n in fixture_names() if "http" in fixture_meta(n)]
HOSTS = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]"}  # served on IPv4 and IPv6


@pytest.fixture(scope="module")
def cnb(tmp_path_factory: pytest.TempPathFactory) -> CnbPlatform:
    return CnbPlatform(tmp_path_factory.mktemp("cnb"))


_built: dict[tuple[str, tuple[tuple[str, str], ...]], CnbBuild] = {}


def cnb_build(cnb: CnbPlatform, name: str, **config_vars: str) -> CnbBuild:
    """Build fixture *name* once per module and config (a LookupError skips: no Python)."""
    key = (name, tuple(sorted(config_vars.items())))
    if key not in _built:
        try:
            _built[key] = cnb.build(FIXTURES / name, dict(config_vars))
        except LookupError as exc:
            pytest.skip(str(exc))
    build = _built[key]
    if "no Python for" in build.output("heroku/python"):
        pytest.skip(build.output("heroku/python").strip())
    return build


def _start_web(cnb: CnbPlatform, procs: ProcessGroup, build: CnbBuild, **env: str):
    port = free_port()
    web = cnb.start(procs, build, "web", port=port, env=env)
    wait_for_port(port, proc=web, timeout=60)
    return web, port


# -- the descriptor and bin/detect ------------------------------------------------------------


def test_buildpack_toml_declares_api_0_10_our_version_and_both_architectures() -> None:
    data = tomllib.loads((REPO / "buildpack.toml").read_text())
    assert data["api"] == "0.10"
    info = data["buildpack"]
    assert info["id"] == OURS and info["version"] == __version__
    assert info["id"].split("/")[-1] not in ("app", "config", "generated", "sbom")
    assert "stacks" not in data and "clear-env" not in info
    assert sorted((t["os"], t.get("arch")) for t in data["targets"]) == [
        ("linux", "amd64"),
        ("linux", "arm64"),
    ]
    assert tomllib.loads((REPO / "package.toml").read_text()) == {"buildpack": {"uri": "."}}


def _cnb_detect(app: Path, tmp_path: Path, path: str) -> tuple[int, str, str]:
    plan = tmp_path / "plan.toml"
    plan.write_text("")
    env = {"PATH": path, "HOME": str(tmp_path), "CNB_BUILD_PLAN_PATH": str(plan)}
    env |= {"CNB_PLATFORM_DIR": str(tmp_path), "CNB_BUILDPACK_DIR": str(REPO)}
    result = subprocess.run(
        [str(REPO / "bin" / "detect"), str(tmp_path), str(plan)],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, plan.read_text()


@pytest.mark.parametrize("with_python", [True, False], ids=["system-python", "no-python"])
@pytest.mark.parametrize("name", fixture_names())
def test_bin_detect_cnb_contract(tmp_path: Path, name: str, with_python: bool) -> None:
    """CNB mode: 0 (pass) or 100 (fail), never 1; nothing in the plan; no Python needed."""
    base = f"{Path(sys._base_executable).parent}:/usr/bin:/bin"  # type: ignore[attr-defined]
    path = base if with_python else _bin_without_python(tmp_path)
    code, output, plan = _cnb_detect(FIXTURES / name, tmp_path, path)
    assert code == (0 if fixture_meta(name)["detect"] else 100), output
    assert plan == ""
    assert "Traceback" not in output


def _bin_without_python(tmp_path: Path) -> str:
    """A PATH with bash and coreutils but no python3 (the grep fallback's world)."""
    return path_with_only(tmp_path / "tools")


# -- build and serve every fixture ------------------------------------------------------------


@pytest.mark.parametrize("name", SERVED)
def test_cnb_build_and_serve(cnb: CnbPlatform, procs: ProcessGroup, name: str) -> None:
    meta = fixture_meta(name)
    build = cnb_build(cnb, name, **HOSTS)
    assert build.built, build.output() or build.output("heroku/python")
    output = build.output()
    assert "Traceback" not in output
    assert f"{meta['detect']} app detected" in output
    _assert_processes(build, name)
    _assert_toml_is_valid(build)

    web, port = _start_web(cnb, procs, build)
    user_web = (FIXTURES / name / "Procfile").is_file()  # theirs binds 0.0.0.0: IPv4 only
    for host in ("127.0.0.1",) if user_web else ("127.0.0.1", "[::1]"):  # [::]:$PORT on Fir
        status, body = http_get(f"http://{host}:{port}{meta['http']['path']}")
        assert status == meta["http"]["status"] and meta["http"]["contains"] in body
    assert_fixture_sockets(meta, port)
    assert web.stop(timeout=30) == 0, web.tail()
    assert "Traceback" not in web.output(), web.tail()


def _assert_processes(build: CnbBuild, name: str) -> None:
    processes = build.lifecycle.processes
    plan = json.loads((build.app_dir / ".channels-buildpack" / "build.json").read_text())["plan"]
    user = (FIXTURES / name / "Procfile").is_file()
    assert build.lifecycle.default_process == "web"
    ours = {k: p for k, p in processes.items() if p.buildpack_id == OURS}
    if user:  # heroku/procfile launches what the Procfile defines; we add nothing it has
        assert processes["web"].buildpack_id == "heroku/procfile"
        assert "release" not in ours and "web" not in ours
        return
    web = ours["web"]
    if plan["kind"] == "channels":
        assert web.command == [
            str(build.layers / LAYERS / "runtime" / "bin" / "channels-buildpack")
        ]
        assert web.args[:2] == ["web", plan["app_path"]]
        assert ("worker" in ours) == bool(plan["asgi"]["background_channels"])
    else:
        assert web.command == ["bash", "-c"] and web.args[0].startswith("exec gunicorn ")
        assert '"[::]:${PORT:-8000}"' in web.args[0]
    assert ("release" in ours) == bool(plan["uses_database"])


def _assert_toml_is_valid(build: CnbBuild) -> None:
    """Every TOML we write is valid for Buildpack API 0.10."""
    layers = build.layers / LAYERS
    launch = tomllib.loads((layers / "launch.toml").read_text())
    assert set(launch) <= {"processes"}
    for entry in launch.get("processes", []):
        check_process_entry(OURS, entry)  # arrays, no "direct", known keys only
    assert sum(1 for e in launch.get("processes", []) if e.get("default")) <= 1
    types = layer_types(layers)  # [types] table, no top-level flags
    assert types[layers / "runtime"] == {"launch": True, "build": False, "cache": True}
    runtime_toml = tomllib.loads((layers / "runtime.toml").read_text())
    assert all(isinstance(v, str) for v in runtime_toml["metadata"].values())
    env = layers / "runtime" / "env.launch"
    for file in env.iterdir():
        name, _, action = file.name.partition(".")
        assert action in ("default", "prepend", "append", "delim"), file.name  # never override
        if action in ("prepend", "append"):
            assert (env / f"{name}.delim").read_text() == ":"
    assert {f.name.partition(".")[0]: f.read_text() for f in env.glob("*.default")} == (
        runtime_defaults()
    )


def test_nothing_is_written_into_heroku_pythons_layers(cnb: CnbPlatform) -> None:
    build = cnb_build(cnb, "tutorial", **HOSTS)
    venv = build.layers / "heroku_python" / "venv"
    assert not list(venv.rglob("channels_buildpack*")) and not list(venv.rglob("buildpack"))
    assert not (venv / "bin" / "channels-buildpack").exists()
    digests = build.lifecycle.layer_digests
    assert digests[(OURS, "heroku/python")] == digests[("heroku/python", "heroku/python")]


# -- the settings layer in every process, config vars win -------------------------------------


PROBE = (
    "import json, os; from django.conf import settings; "
    "backend = settings.CHANNEL_LAYERS['default']['BACKEND']; "
    "print(json.dumps([backend, os.environ.get('WEB_CONCURRENCY')]))"
)


def test_one_off_process_gets_the_settings_layer(cnb: CnbPlatform, procs: ProcessGroup) -> None:
    """``heroku run python ...`` on Fir: launcher env (no process type), our .pth via
    sitecustomize, REDIS_URL -> our layer; CHANNELS_BUILDPACK_SETTINGS=off wins."""
    build = cnb_build(cnb, "tutorial", **HOSTS)
    for settings_switch, backend in (
        ("", "buildpack.layers.redis.RedisChannelLayer"),
        ("off", "channels.layers.InMemoryChannelLayer"),
    ):
        extra = {"REDIS_URL": "redis://127.0.0.1:1/0", "DJANGO_SETTINGS_MODULE": "mysite.settings"}
        if settings_switch:
            extra["CHANNELS_BUILDPACK_SETTINGS"] = settings_switch
        env = cnb.launch_env(build, "", dyno="run.1", extra=extra)
        result = subprocess.run(
            ["python", "-c", PROBE],
            cwd=build.app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.splitlines()[-1]) == [backend, None]


def test_web_concurrency_is_computed_at_start_for_web_only(cnb: CnbPlatform) -> None:
    build = cnb_build(cnb, "tutorial", **HOSTS)
    expected = _expected_web_concurrency()
    assert cnb.launch_env(build, "web").get("WEB_CONCURRENCY") == expected
    assert "WEB_CONCURRENCY" not in cnb.launch_env(build, "worker")
    assert cnb.launch_env(build, "web", extra={"WEB_CONCURRENCY": "7"})["WEB_CONCURRENCY"] == "7"


def _expected_web_concurrency() -> str | None:
    """heroku/python's classic formula on this machine's cgroup limit (None: no limit)."""
    for file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        if os.access(file, os.R_OK):
            raw = Path(file).read_text().strip()
            break
    else:
        return None
    if not raw.isdigit() or not 0 < int(raw) // 1048576 < 1048576:
        return None
    value = min((os.cpu_count() or 1) * 2 + 1, int(raw) // 1048576 // 256)
    return str(max(value, 1))


# -- Redis across processes, graceful stop --------------------------------------------------


@pytest.mark.redis
def test_cnb_groups_cross_web_processes_and_jobs_go_through_a_worker(
    cnb: CnbPlatform, procs: ProcessGroup, redis_server: RedisServer
) -> None:
    build = cnb_build(cnb, "runtime_app", **HOSTS)
    assert build.built, build.output()
    deploy = Deployment(cnb, procs, build, {"REDIS_URL": redis_server.url})  # type: ignore[arg-type]
    web1, web2 = deploy.web("web.1"), deploy.web("web.2")
    deploy.worker("worker.1")

    async def groups() -> None:
        alice = await ws_connect(f"{web1.ws}/ws/group/room/")
        bob = await ws_connect(f"{web2.ws}/ws/group/room/")
        for conn in (alice, bob):
            assert "joined" in json.loads(await asyncio.wait_for(conn.recv(), 10))
        await alice.send(json.dumps({"broadcast": "over redis"}))
        while True:
            message = json.loads(await asyncio.wait_for(bob.recv(), 15))
            if message.get("text") == "over redis":
                assert message["sender"].startswith("web.1:") and message["to"].startswith("web.2:")
                break
        await alice.close()
        await bob.close()

    asyncio.run(groups())
    assert web1.get("/enqueue/?count=20&prefix=cnb")[0] == 200
    counts = wait_until(lambda: len(redis_server.client().hgetall("rt:count")) == 20, 60, "20 jobs")
    assert counts
    who = {v.decode() for v in redis_server.client().hgetall("rt:who:count").values()}
    assert all(w.startswith("worker.1:") for w in who), who


@pytest.mark.redis
def test_cnb_web_stops_gracefully_on_sigterm(
    cnb: CnbPlatform, procs: ProcessGroup, redis_server: RedisServer
) -> None:
    build = cnb_build(cnb, "runtime_app", **HOSTS)
    deploy = Deployment(cnb, procs, build, {"REDIS_URL": redis_server.url})  # type: ignore[arg-type]
    web = deploy.web("web.1")
    assert web.process.pid == web.pids[0]  # launched directly: SIGTERM reaches our launcher

    async def scenario() -> tuple[int | None, int | None]:
        conn = await ws_connect(f"{web.ws}/ws/group/drain/")
        assert "joined" in json.loads(await asyncio.wait_for(conn.recv(), 10))
        web.process.signal(signal.SIGTERM)
        code = await close_code(conn, 30)
        return code, await asyncio.to_thread(web.process.wait, 30)

    code, exit_code = asyncio.run(scenario())
    assert (code, exit_code) == (1012, 0), web.process.tail()
    assert redis_server.client().zcard(b"asgi:group:drain") == 0  # disconnect() ran


# -- the user's Procfile, a cached rebuild -------------------------------------------------


def test_cnb_procfile_wins_and_is_linted(cnb: CnbPlatform, procs: ProcessGroup) -> None:
    build = cnb_build(cnb, "own_procfile", **HOSTS)
    assert build.built, build.output()
    assert "Your Procfile defines release, web: heroku/procfile launches those" in build.output()
    assert "&&" in build.output()  # the lint warning about chained commands
    assert build.lifecycle.processes["web"].args == [
        "daphne -b 0.0.0.0 -p $PORT --proxy-headers ownproj.asgi:application"
    ]
    web, port = _start_web(cnb, procs, build)
    assert http_get(f"http://127.0.0.1:{port}/health/")[0] == 200
    assert web.stop(timeout=30) == 0


def test_cnb_rebuild_reuses_our_cached_layer_with_the_same_result(
    cnb: CnbPlatform, procs: ProcessGroup
) -> None:
    first = cnb.build(FIXTURES / "background_channels", dict(HOSTS))
    assert first.built, first.output()
    layers = first.layers / LAYERS
    before = (tree_digest(layers / "runtime" / "site"), (layers / "launch.toml").read_text())
    assert "installed (layer runtime)" in first.output()
    second = cnb.rebuild(first)
    assert second.built, second.output()
    assert "reused from the build cache" in second.output()
    assert (
        tree_digest(layers / "runtime" / "site"),
        (layers / "launch.toml").read_text(),
    ) == before
    web, port = _start_web(cnb, procs, second)
    reply = asyncio.run(
        ws_roundtrip(f"ws://127.0.0.1:{port}/ws/jobs/", '{"job": "x"}', "done x", timeout=20)
    )
    assert "done x" in reply
    assert web.stop(timeout=30) == 0


def test_cnb_uvicorn_engine_goes_into_our_layer_and_serves(
    cnb: CnbPlatform, procs: ProcessGroup
) -> None:
    """CHANNELS_WEB_SERVER=uvicorn at build time: the engine's packages, which the app does
    not declare, are resolved against its venv and installed into our layer (never into
    heroku/python's), and the web process serves with uvicorn."""
    build = cnb_build(cnb, "tutorial", **HOSTS, CHANNELS_WEB_SERVER="uvicorn")
    assert build.built, build.output()
    assert "uvicorn 0." in build.output() and "(installed by channels-buildpack)" in build.output()
    site = build.layers / LAYERS / "runtime" / "site"
    assert (site / "uvicorn").is_dir()
    assert (site / "uvloop").is_dir(), "uvloop came with our runtime's pip run"
    assert not list((build.layers / "heroku_python" / "venv").rglob("uvicorn"))
    web, port = _start_web(cnb, procs, build)
    wait_until(lambda: "web: uvicorn " in web.output(), 15, "the engine's start-up line")
    assert "uvloop" in web.output()
    assert http_get(f"http://[::1]:{port}/health/")[0] == 200
    assert_fixture_sockets(fixture_meta("tutorial"), port)
    assert web.stop(timeout=30) == 0, web.tail()


def test_cnb_build_without_heroku_python_explains(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CNB_LAYERS_DIR": str(tmp_path)}
    tools = _bin_without_python(tmp_path)
    env["PATH"] = tools
    result = subprocess.run(
        [str(REPO / "bin" / "build"), str(tmp_path), str(tmp_path), str(tmp_path / "plan.toml")],
        cwd=FIXTURES / "tutorial",
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "heroku/python must run before channels-buildpack" in result.stderr
