"""The web engines (``CHANNELS_WEB_SERVER``): the promises each one keeps, checked on each.

The launcher's other end-to-end tests (graceful shutdown, forwarded address, pre-fork,
single-process mode, Redis restarts, honcho) run on both engines too; these cover the rest:
the start-up line, the access log, TCP_NODELAY, the 1 MiB message limit, origin rejections,
pings, the engine choice itself, and the Daphne speed-ups.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from tests.support.apps import ENGINES, LOCAL_HOSTS, engine_vars
from tests.support.deployment import Deployment, Dyno
from tests.support.platform import Build, Platform
from tests.support.ports import free_port, wait_for_port
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer
from tests.support.ws import close_code, http_get, ws_connect

MIB = 1024 * 1024
START_LINES = {
    "daphne": r"web: Daphne \d+\.\d+\.\d+ \(Twisted [\d.]+, uvloop [\d.]+\) on \[::\]:\d+ ",
    "uvicorn": (
        r"web: uvicorn \d+\.\d+\.\d+ \(httptools [\d.]+, websockets [\d.]+, uvloop [\d.]+\) "
        r"on \[::\]:\d+ "
    ),
}


def _web(platform: Platform, procs: ProcessGroup, build: Build, **env: str) -> Dyno:
    return Deployment(platform, procs, build, {}).web("web.1", env=env)


def _raw_get(port: int, path: str) -> tuple[socket.socket, str]:
    """GET on a fresh keep-alive connection; the connection (still open) and the body."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    if length:
        while len(body) < int(length.group(1)):
            body += conn.recv(65536)
    else:  # chunked: one chunk, then the terminator
        while not body.endswith(b"0\r\n\r\n"):
            body += conn.recv(65536)
        body = body.split(b"\r\n")[1]
    return conn, body.decode()


# -- per engine ---------------------------------------------------------------------------


def test_start_line_names_the_engine_and_its_versions(
    platform: Platform, procs: ProcessGroup, engine_build: Build, web_engine: str
) -> None:
    web = _web(platform, procs, engine_build)
    assert re.search(START_LINES[web_engine], web.process.output()), web.process.tail()
    assert web.process.stop(30) == 0


def test_access_log_has_one_line_per_request_on_stdout(
    platform: Platform, procs: ProcessGroup, engine_build: Build
) -> None:
    port = free_port()
    command = engine_build.procfile()["web"] + " 2>/dev/null"  # stdout only
    process = platform.start(procs, engine_build, "web", port=port, command=command)
    wait_for_port(port, proc=process, timeout=60)
    for index in range(3):
        assert http_get(f"http://127.0.0.1:{port}/health/?n={index}")[0] == 200
    assert process.stop(30) == 0
    lines = process.output().splitlines()
    assert len([line for line in lines if "/health/" in line]) == 3, lines
    assert not [line for line in lines if line.startswith("channels-buildpack:")], lines


def test_accepted_connections_have_tcp_nodelay(
    platform: Platform, procs: ProcessGroup, engine_build: Build
) -> None:
    web = _web(platform, procs, engine_build)
    assert web.port is not None
    probe, _ = _raw_get(web.port, "/health/")  # accepted, kept alive
    conn, body = _raw_get(web.port, f"/nodelay/?port={probe.getsockname()[1]}")
    assert body == "1", body  # the probe's connection, as the server accepted it
    conn.close()
    probe.close()

    async def websocket() -> str:
        ws = await ws_connect(f"{web.ws}/ws/echo/")
        try:
            local_port = ws.local_address[1]  # type: ignore[attr-defined]
            path = f"/nodelay/?port={local_port}"
            return await asyncio.to_thread(lambda: _raw_get(web.port or 0, path)[1])
        finally:
            await ws.close()

    assert asyncio.run(websocket()) == "1"


def test_websocket_messages_are_limited_to_1_mib(
    platform: Platform, procs: ProcessGroup, engine_build: Build
) -> None:
    web = _web(platform, procs, engine_build)

    async def scenario() -> int | None:
        conn = await ws_connect(f"{web.ws}/ws/echo/", max_size=None)
        await conn.send("x" * MIB)
        assert len(await asyncio.wait_for(conn.recv(), 30)) == MIB
        await conn.send("y" * (MIB + 1))
        return await close_code(conn, 10)  # None: still open (the message was taken)

    # uvicorn closes with 1009 "message too big"; Daphne (autobahn fails by dropping the
    # TCP connection) with no close frame, which the client reports as 1006.
    assert asyncio.run(scenario()) in (1009, 1006)
    assert web.process.is_running()


def test_refused_origin_is_logged_with_the_fix(
    platform: Platform, procs: ProcessGroup, engine_build: Build
) -> None:
    web = _web(platform, procs, engine_build)

    async def refused() -> None:
        with pytest.raises(Exception, match="403"):
            await ws_connect(f"{web.ws}/ws/echo/", origin="https://evil.example")

    asyncio.run(refused())
    web.process.wait_for_output(
        r"WebSocket /ws/echo/ refused \(403\): Origin https://evil\.example is not in "
        r"ALLOWED_HOSTS .*Fix: heroku config:set DJANGO_ALLOWED_HOSTS=evil\.example",
        timeout=10,
    )
    assert "Traceback" not in web.process.output()


@pytest.mark.redis
def test_single_process_mode_finishes_the_background_job_in_flight_on_sigterm(
    platform: Platform, procs: ProcessGroup, engine_build: Build, redis_server: RedisServer
) -> None:
    """No Redis layer (single-process mode); jobs record in a Redis of their own."""
    web = _web(platform, procs, engine_build, RT_RECORD_URL=redis_server.url)
    assert "mode single-process" in web.process.output()
    client = redis_server.client()

    async def start_job() -> None:
        conn = await ws_connect(f"{web.ws}/ws/group/drain/")
        await conn.send(json.dumps({"job": "slow-1", "seconds": 2}))
        deadline = time.monotonic() + 20
        while not client.hget("rt:started", "slow-1") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await conn.close()

    asyncio.run(start_job())
    assert client.hget("rt:started", "slow-1") == b"1"
    web.process.signal(signal.SIGTERM)
    assert web.process.wait(30) == 0, web.process.tail()
    assert client.hget("rt:count", "slow-1") == b"1"  # it finished before the exit
    assert "stopped cleanly" in web.process.output()


def test_at_the_deadline_what_is_left_is_cancelled_and_the_exit_is_0(
    platform: Platform, procs: ProcessGroup, engine_build: Build
) -> None:
    web = _web(platform, procs, engine_build, CHANNELS_SHUTDOWN_TIMEOUT="2")
    slow = threading.Thread(target=lambda: _quietly(http_get, f"{web.http}/sleep/?seconds=20"))
    slow.start()
    time.sleep(1)
    started = time.monotonic()
    web.process.signal(signal.SIGTERM)
    assert web.process.wait(15) == 0, web.process.tail()
    assert time.monotonic() - started < 6
    slow.join(30)
    output = web.process.output()
    assert "waiting for 1 request(s) in flight, deadline 2 s" in output
    assert "deadline reached: cancelling 1 connection(s)" in output
    assert "Traceback" not in output, output


def _quietly(function: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(OSError):  # the server cut the request off: that is the point
        function(*args)


# -- the engine choice ----------------------------------------------------------------------


@pytest.fixture
def daphne_build(build_app: Callable[..., Build]) -> Build:
    """runtime_app built for Daphne, a build of its own: test_build_e2e installs uvicorn
    into the session's shared runtime_app slug, and these tests need a slug without it."""
    build = build_app("runtime_app", **LOCAL_HOSTS, CHANNELS_WEB_SERVER="daphne")
    assert build.ok
    return build


def test_an_unknown_engine_stops_the_process_with_one_line(
    platform: Platform, procs: ProcessGroup, daphne_build: Build
) -> None:
    process = platform.start(
        procs, daphne_build, "web", port=free_port(), env={"CHANNELS_WEB_SERVER": "nginx"}
    )
    assert process.wait(30) == 1
    output = process.output()
    lines = [line for line in output.splitlines() if "CHANNELS_WEB_SERVER" in line]
    assert len(lines) == 1, output
    assert "'nginx' is not a web engine" in lines[0] and "accepted: daphne, uvicorn" in lines[0]
    assert "Traceback" not in output


def test_uvicorn_chosen_after_the_build_serves_with_daphne_and_says_why(
    platform: Platform, procs: ProcessGroup, daphne_build: Build
) -> None:
    """A config change restarts dynos without a build: the slug has no uvicorn yet."""
    web = _web(platform, procs, daphne_build, CHANNELS_WEB_SERVER="uvicorn")
    output = web.process.output()
    assert "needs the Python package 'uvicorn', which this slug lacks" in output
    assert re.search(START_LINES["daphne"], output), output
    assert web.get("/health/")[0] == 200


# -- pings: both engines side by side (a ping is due after 20 s) ---------------------------


def _handshake(port: int, path: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=40)
    conn.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return conn


def _first_ping_after(conn: socket.socket, started: float, limit: float) -> float | None:
    """Seconds until the server's first PING frame (client frames: none sent)."""
    conn.settimeout(limit)
    buffer = b""
    while time.monotonic() - started < limit:
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            return None
        if not chunk:
            return None
        buffer += chunk
        while len(buffer) >= 2:
            opcode, size = buffer[0] & 0x0F, buffer[1] & 0x7F
            header = 2 + {126: 2, 127: 8}.get(size, 0)
            if size >= 126:
                size = int.from_bytes(buffer[2:header], "big")
            if len(buffer) < header + size:
                break
            if opcode == 0x9:
                return time.monotonic() - started
            buffer = buffer[header + size :]
    return None


@pytest.mark.slow
def test_idle_websockets_are_pinged_every_20_s(
    platform: Platform, procs: ProcessGroup, build_app: Callable[..., Build]
) -> None:
    webs = {}
    for engine in ENGINES:
        build = build_app("runtime_app", **LOCAL_HOSTS, **engine_vars(engine))
        webs[engine] = Deployment(platform, procs, build, {}).web(f"web.{len(webs) + 1}")
    started = time.monotonic()
    conns = {engine: _handshake(web.port or 0, "/ws/echo/") for engine, web in webs.items()}

    async def wait_all() -> dict[str, float | None]:
        waits = [asyncio.to_thread(_first_ping_after, conn, started, 30) for conn in conns.values()]
        return dict(zip(conns, await asyncio.gather(*waits), strict=True))

    pinged = asyncio.run(wait_all())
    for conn in conns.values():
        conn.close()
    for engine, after in pinged.items():
        assert after is not None and 19 <= after <= 25, (engine, after)


# -- the Daphne speed-ups, in a fresh interpreter each ----------------------------------------


def _python(code: str, **env: str) -> str:
    import os

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_daphne_runs_its_reactor_on_uvloop_and_keeps_asgi_threads() -> None:
    code = (
        "import asyncio, threading, time\n"
        "from buildpack.runtime.web import daphne\n"
        "from twisted.internet import reactor\n"
        "loop = reactor._asyncioEventloop\n"
        "def work():\n"
        "    time.sleep(0.2)\n"
        "    return threading.current_thread().name\n"
        "names = loop.run_until_complete(\n"
        "    asyncio.gather(*(loop.run_in_executor(None, work) for _ in range(8))))\n"
        "print(type(loop).__module__, loop is daphne.LOOP, len(set(names)))"
    )
    # ASGI_THREADS sizes the default executor, as Daphne does for its own loop
    assert _python(code, ASGI_THREADS="3") == "uvloop True 3"


def test_no_uvloop_when_a_reactor_is_already_installed() -> None:
    code = (
        "import twisted.internet.reactor\n"
        "from buildpack.runtime.web import speedups\n"
        "print(speedups.install_uvloop_reactor())"
    )
    assert _python(code) == "None"


QUIET = (
    "from buildpack.runtime.web import speedups\n"
    "import autobahn.websocket.protocol as p, autobahn.twisted.websocket as t\n"
    "{before}\n"
    "print(speedups.quiet_autobahn_debug(), p.hltype(p.WebSocketProtocol.sendData) == '')"
)


def test_autobahn_debug_arguments_are_not_formatted_while_debug_is_off() -> None:
    assert _python(QUIET.format(before="")) == "True True"


def test_autobahn_formatting_stays_with_debug_logging_on() -> None:
    before = "import txaio; txaio.set_global_log_level('debug')"
    assert _python(QUIET.format(before=before)) == "False False"


def test_an_autobahn_without_those_names_runs_as_before() -> None:
    code = (
        "from buildpack.runtime.web import speedups\n"
        "import autobahn.websocket.protocol as p, autobahn.twisted.websocket as t\n"
        "del p.hlval, t.hlval\n"
        "print(speedups.quiet_autobahn_debug(), p.hltype(len) != '', t.hltype(len) != '')"
    )
    assert _python(code) == "False True True"


def test_an_orphaned_request_aborted_is_not_logged_but_other_task_errors_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The deadline leaves Django's disconnect listener to end with RequestAborted unseen."""
    import gc

    from django.core.exceptions import RequestAborted

    from buildpack.runtime.web import engines

    async def fail(exc: Exception) -> None:
        raise exc

    async def scenario() -> None:
        engines.quiet_aborted_requests(asyncio.get_running_loop())
        for exc in (RequestAborted(), ValueError("a real bug")):
            task = asyncio.ensure_future(fail(exc))
            await asyncio.sleep(0)
            del task
            gc.collect()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(scenario())
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "a real bug" in logged
    assert "RequestAborted" not in logged
