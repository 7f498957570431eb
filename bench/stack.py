"""The run context: emulated platform, builds, Redis, servers, workers and client processes.

Every process is started through ``tests.support.procs`` (own process group, log file,
guaranteed cleanup) or ``tests.support.redis.RedisServer``; :meth:`Context.close` stops
them all, and the guardian process of ``tests.support.procs`` kills whatever is left if
the bench itself dies.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.common import BENCH_APP, REPO, Profile, process_tree, say
from tests.support.deployment import ACCEPTING, WORKER_READY, wait_for_matches
from tests.support.platform import Build, Platform, Step, uv_binary
from tests.support.ports import free_port, port_is_open, wait_for_port
from tests.support.procs import ManagedProcess, ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import http_get

APP_MODULE = "benchsite.asgi:application"
# Peers installed into the bench app's slug Python after its build (same versions as the
# bench virtualenv when it has them, so the JSON's versions describe what ran).
PEER_PACKAGES = ("uvicorn", "gunicorn", "websockets", "httptools", "uvloop")


class TimedPlatform(Platform):
    """The test platform emulation, timing each step of every build."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        super().__init__(root, cache_dir)
        self.timings: list[dict[str, float]] = []
        self._current: dict[str, float] = {}

    def build(self, source: Path, config_vars: dict[str, str] | None = None, **kw: Any) -> Build:
        self._current = {}
        try:
            return super().build(source, config_vars, **kw)
        finally:
            self.timings.append(self._current)

    def _run(self, command: list[str], env: dict[str, str], cwd: Path | None = None) -> Step:
        started = time.perf_counter()
        step = super()._run(command, env, cwd)
        self._current[Path(command[0]).name] = time.perf_counter() - started
        return step

    def _heroku_python(self, build_dir: Path, link: Path, python: str, install: bool) -> None:
        started = time.perf_counter()
        super()._heroku_python(build_dir, link, python, install)
        self._current["heroku_python"] = time.perf_counter() - started

    @property
    def last(self) -> dict[str, float]:
        return self.timings[-1] if self.timings else {}


@dataclass
class Server:
    """A running web server (ours, plain Daphne or a peer) on a loopback port."""

    kind: str
    label: str
    proc: ManagedProcess
    port: int
    processes: int = 1
    started: float = 0.0
    pids: list[int] = field(default_factory=list)
    balance: list[list[int]] = field(default_factory=list)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list[psutil.Process]:
        return process_tree(self.proc.pid)

    def rss(self) -> int:
        total = 0
        for proc in self.tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def rss_by_process(self) -> dict[int, int]:
        out = {}
        for proc in self.tree():
            with contextlib.suppress(psutil.Error):
                out[proc.pid] = proc.memory_info().rss
        return out

    def stop(self, timeout: float = 30.0) -> int | None:
        return self.proc.stop(timeout)

    def connections_per_process(self) -> list[int]:
        """Open client connections (accepted on our port) held by each web process."""
        counts = []
        for pid in self.pids or [self.proc.pid]:
            try:
                conns = psutil.Process(pid).net_connections()
            except psutil.Error:
                counts.append(0)
                continue
            counts.append(
                sum(1 for c in conns if c.status == "ESTABLISHED" and c.laddr.port == self.port)
            )
        return counts

    def sample_balance(self) -> None:
        """Record how the clients' connections are spread over the processes (mid-load)."""
        if self.processes > 1:
            self.balance.append(self.connections_per_process())


# label, command (None = the Procfile's web line); $PORT expands in the dyno's shell. The
# uvicorn peers run with uvicorn's default WebSocket protocol (websockets' sans-I/O one).
SERVER_COMMANDS: dict[str, tuple[str, str | None]] = {
    "ours": ("channels-buildpack web (daphne)", None),
    "ours_uvicorn": ("channels-buildpack web (uvicorn)", None),
    "daphne": ("plain daphne", f"daphne -b 127.0.0.1 -p $PORT {APP_MODULE}"),
    "gunicorn": (
        "gunicorn -k asgi",
        f"gunicorn -k asgi -w 1 -b 127.0.0.1:$PORT --graceful-timeout 25 {APP_MODULE}",
    ),
    "uvicorn": (
        "uvicorn (h11, asyncio)",
        f"uvicorn {APP_MODULE} --host 127.0.0.1 --port $PORT --http h11 --loop asyncio "
        "--lifespan off",
    ),
    "uvicorn_std": (
        "uvicorn (httptools, uvloop)",
        f"uvicorn {APP_MODULE} --host 127.0.0.1 --port $PORT --http httptools --loop uvloop "
        "--lifespan off",
    ),
    # HTTP only: the same Django app under WSGI, one process, one thread
    "gunicorn_wsgi": (
        "gunicorn gthread (WSGI, 1 thread)",
        "gunicorn -k gthread --threads 1 -w 1 -b 127.0.0.1:$PORT benchsite.wsgi:application",
    ),
}
# Our launcher's kinds: the engine each one selects with CHANNELS_WEB_SERVER.
ENGINES = {"ours": "daphne", "ours_uvicorn": "uvicorn"}


def is_ours(kind: str) -> bool:
    return kind in ENGINES


class Context:
    """What every family gets: profile, work dir, processes, Redis, builds, load generator."""

    def __init__(self, profile: Profile, workdir: Path, loadgen: str) -> None:
        self.profile = profile
        self.workdir = workdir
        self.loadgen = loadgen
        self.logs = workdir / "logs"
        self.procs = ProcessGroup(log_dir=self.logs, stop_timeout=35.0)
        self.platform = TimedPlatform(workdir / "platform")
        self._redis: dict[str, RedisServer] = {}
        self._bench_build: Build | None = None
        self.peer_versions: dict[str, str] = {}
        self.notes: list[str] = []
        self._counter = 0

    # -- files ---------------------------------------------------------------------------

    def scratch(self, prefix: str) -> Path:
        self._counter += 1
        path = self.workdir / "scratch" / f"{prefix}-{self._counter}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- Redis ---------------------------------------------------------------------------

    def redis(self, name: str = "main", extra_args: tuple[str, ...] = ()) -> RedisServer:
        server = self._redis.get(name)
        if server is None or not server.is_running():
            server = RedisServer(log_dir=self.logs, extra_args=extra_args).start()
            self._redis[name] = server
        return server

    def flush_redis(self, name: str = "main") -> None:
        self.redis(name).client().flushall()

    # -- builds --------------------------------------------------------------------------

    def bench_build(self) -> Build:
        """The bench app built through bin/*, with the peer servers added to its Python."""
        if self._bench_build is None:
            say("building bench/app through bin/detect, bin/compile, bin/release ...")
            build = self.platform.build(BENCH_APP)
            if not build.ok:
                out = build.compile.output if build.compile else build.detect.output
                raise RuntimeError(f"bench app build failed:\n{out}")
            self._install_peers(build)
            self._bench_build = build
        return self._bench_build

    def _install_peers(self, build: Build) -> None:
        python = str(build.app_dir / ".heroku" / "python" / "bin" / "python")
        wanted = []
        for name in PEER_PACKAGES:
            try:
                wanted.append(f"{name}=={importlib.metadata.version(name)}")
            except importlib.metadata.PackageNotFoundError:
                wanted.append(name)
        result = subprocess.run(
            [uv_binary(), "pip", "install", "-q", "--python", python, *wanted],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:  # try one by one: a missing peer is a note, not a failure
            for spec in wanted:
                single = subprocess.run(
                    [uv_binary(), "pip", "install", "-q", "--python", python, spec],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if single.returncode != 0:
                    self.notes.append(
                        f"could not install {spec} into the slug: {single.stderr[-200:]}"
                    )
        self.peer_versions = slug_versions(python)

    # -- processes -----------------------------------------------------------------------

    def dyno_env(self, redis: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
        env: dict[str, str] = {}
        if redis:
            env["REDIS_URL"] = self.redis().url
        env.update(extra or {})
        return env

    def start_server(
        self,
        kind: str,
        *,
        processes: int = 1,
        redis: bool = True,
        env: dict[str, str] | None = None,
        dyno: str = "web.1",
        wait: bool = True,
    ) -> Server:
        """Start ``kind`` (see SERVER_COMMANDS) on a free port like a web dyno; wait until it
        answers ``GET /health/`` with 200 (and, for ours, every process said it accepts)."""
        build = self.bench_build()
        label, command = SERVER_COMMANDS[kind]
        if is_ours(kind) and processes > 1:
            label = f"{label} x{processes}"
        port = free_port()
        extra = self.dyno_env(redis, {"WEB_CONCURRENCY": str(processes), **(env or {})})
        if is_ours(kind):
            extra.setdefault("CHANNELS_WEB_SERVER", ENGINES[kind])
        else:
            extra.pop("WEB_CONCURRENCY")  # gunicorn would read it; peers run one process here
        started = time.monotonic()
        proc = self.platform.start(
            self.procs, build, "web", dyno=dyno, port=port, env=extra, command=command
        )
        server = Server(kind, label, proc, port, processes, started)
        if wait:
            self.wait_ready(server)
        return server

    def wait_ready(self, server: Server, timeout: float = 60.0) -> None:
        wait_for_port(server.port, proc=server.proc, timeout=timeout)
        if is_ours(server.kind):
            matches = wait_for_matches(server.proc, ACCEPTING, server.processes, timeout)
            server.pids = [int(m.group(2)) for m in matches]
        deadline = time.monotonic() + timeout
        while True:
            try:
                status, _ = http_get(server.http + "/health/", timeout=10)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or server.proc.poll() is not None:
                raise RuntimeError(
                    f"{server.label} never answered /health/\n{server.proc.tail(40)}"
                )
            time.sleep(0.05)

    def start_worker(
        self,
        *,
        stock: bool,
        index: int,
        concurrency: int = 1,
        redis_name: str = "main",
        channels: str = "jobs",
        wait: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> ManagedProcess:
        """A worker dyno: ``manage.py runworker`` on the stock layer, or ours."""
        build = self.bench_build()
        url = self.redis(redis_name).url
        if stock:
            command = f"python manage.py runworker {channels}"
            env = {"REDIS_URL": url, "CHANNELS_BUILDPACK_SETTINGS": "off"}
        else:
            command = f"{build.procfile()['worker']} --concurrency {concurrency}"
            env = {"REDIS_URL": url}
        env.update(extra_env or {})
        proc = self.platform.start(
            self.procs, build, "worker", dyno=f"worker.{index}", env=env, command=command
        )
        if wait:
            wait_worker_ready(proc, stock)
        return proc

    def client(self, module: str, *args: str, name: str = "") -> ManagedProcess:
        """A client/load-generator process from the bench's own virtualenv."""
        return self.procs.start(
            [sys.executable, "-m", f"bench.clients.{module}", *args],
            env=dict(os.environ),
            cwd=REPO,
            name=name or module,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.procs.stop_all(timeout=10)
        for server in self._redis.values():
            with contextlib.suppress(Exception):
                server.stop()


def stop_servers(servers: list[Server], timeout: float = 2.0) -> None:
    """SIGTERM every server at once (like a deploy), then wait for each (SIGKILL at timeout)."""
    for server in servers:
        server.proc.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for server in servers:
        server.stop(max(0.1, deadline - time.monotonic()))


STOCK_READY = re.compile(r"Running worker for channels")


def wait_worker_ready(proc: ManagedProcess, stock: bool, timeout: float = 60.0) -> None:
    wait_for_matches(proc, STOCK_READY if stock else WORKER_READY, 1, timeout)


def blocked_pops(redis: RedisServer) -> int:
    """Clients blocked in BZPOPMIN right now (workers waiting for jobs)."""
    clients = redis.client().client_list()
    return sum(1 for c in clients if c.get("cmd") == "bzpopmin")


def wait_blocked_pops(redis: RedisServer, count: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if blocked_pops(redis) >= count:
            return True
        time.sleep(0.02)
    return False


def slug_versions(python: str) -> dict[str, str]:
    """Versions of the packages that matter, as installed in the slug's Python."""
    names = [
        "django", "channels", "daphne", "channels-redis", "redis", "twisted", "autobahn",
        "asgiref", "msgpack", "uvicorn", "gunicorn", "websockets", "httptools", "uvloop",
        "channels-buildpack",
    ]  # fmt: skip
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {'python': sys.version.split()[0]}\n"
        f"for n in {names!r}:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    try:
        return dict(json.loads(result.stdout))
    except ValueError:
        return {"error": result.stderr[-300:]}


def port_bound(port: int) -> bool:
    return port_is_open(port, timeout=0.2)


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, dirs_exist_ok=True)
