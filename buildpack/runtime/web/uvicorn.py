"""The uvicorn engine (``CHANNELS_WEB_SERVER=uvicorn``): uvicorn run from code on the socket
the launcher bound, with the Daphne engine's promises.

* the socket is adopted with ``socket.socket(fileno=...)``, which reads its real family
  and protocol, so accepted connections get TCP_NODELAY (uvicorn's own ``fd=`` option
  labels a TCP socket AF_UNIX and they do not);
* a socket shared with other processes is accepted from one connection at a time with a
  1 ms pause, like the Daphne engine's ``FairPort``, instead of asyncio's accept burst;
* httptools, uvloop and websockets' sans-I/O protocol when installed (uvicorn's ``auto``);
  pings every 20 s, 1 MiB messages, no permessage-deflate (Daphne offers none either);
* client address and scheme from :class:`.forwarded.ClientAddressMiddleware` (uvicorn's
  own proxy headers believe the client-written first ``X-Forwarded-For`` entry once every
  peer is trusted, which a platform router's changing address requires);
* SIGTERM/SIGINT: stop accepting, close every WebSocket with 1012 (the app receives
  ``websocket.disconnect`` and ``disconnect()`` runs), let requests in flight and
  background jobs finish, cancel what is left at the deadline, exit 0. uvicorn would
  re-raise the signal after its own shutdown (exit 143); this engine does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from uvicorn.config import WS_PROTOCOLS

from buildpack import log, messages
from buildpack.messages import LaunchError
from buildpack.runtime.ops.autoscale import masked_access_record
from buildpack.runtime.web import engines
from buildpack.runtime.web.engines import ACCEPT_PAUSE, POLL_SECONDS, ServerSetup
from buildpack.runtime.web.forwarded import ClientAddressMiddleware

MINIMUM_VERSION = (0, 44)  # websockets-sansio keepalive pings
SANSIO = "websockets-sansio"
KEEP_ALIVE_SECONDS = 75  # idle HTTP keep-alive (uvicorn's 5 s would race a proxy reusing it)
ACCESS_FORMAT = '%(client_addr)s - "%(request_line)s" %(status_code)s'
# uvicorn's own life-cycle lines; ours say the same once, prefixed like every runtime line
QUIET_PREFIXES = ("Started server", "Finished server", "Waiting for", "Application startup")


def describe() -> str:
    """``uvicorn 0.54.0 (httptools 0.9.0, websockets 17.4, uvloop 0.23.0)``."""
    parts = engines.with_versions(["httptools", "websockets", "uvloop"])
    return f"uvicorn {engines.version('uvicorn')}" + (f" ({parts})" if parts else "")


def check() -> None:
    """LaunchError when the installed uvicorn lacks what this engine relies on."""
    try:
        import websockets  # noqa: F401 - without it uvicorn serves no WebSocket at all
    except ImportError as exc:
        raise LaunchError(
            messages.WEB_SERVER_MISSING, engine="uvicorn", package="websockets"
        ) from exc
    installed = engines.version("uvicorn")
    try:
        numbers = tuple(int(part) for part in installed.split(".")[:2])
    except ValueError:
        return
    if numbers < MINIMUM_VERSION:
        minimum = ".".join(map(str, MINIMUM_VERSION))
        raise LaunchError(messages.WEB_SERVER_TOO_OLD, minimum=minimum, installed=installed)


def config_for(setup: ServerSetup) -> uvicorn.Config:
    """uvicorn's settings for *setup*."""
    return uvicorn.Config(
        ClientAddressMiddleware(setup.application, setup.hops),
        loop="auto",
        http="auto",
        ws=SANSIO if SANSIO in WS_PROTOCOLS else "auto",
        ws_max_size=engines.MAX_MESSAGE_BYTES,
        ws_ping_interval=engines.PING_INTERVAL,
        ws_ping_timeout=engines.PING_TIMEOUT,
        ws_per_message_deflate=False,
        lifespan="off",  # Channels' ProtocolTypeRouter has no lifespan handler
        proxy_headers=False,  # the middleware applies CHANNELS_PROXY_HOPS instead
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_config=None,
        access_log=True,
        use_colors=False,
    )


class _QuietLifecycle(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(QUIET_PREFIXES)


def _not_cancelled(record: logging.LogRecord) -> bool:
    """Drop uvicorn's traceback for a request the shutdown deadline cancelled (the stop's
    own 'deadline reached' line says it; the Daphne engine prints nothing more either)."""
    return not (record.exc_info and record.exc_info[0] is asyncio.CancelledError)


def configure_logging() -> None:
    """Access lines (one per request, WebSocket handshakes included) on stdout; uvicorn's
    warnings and errors on stderr."""
    from uvicorn.logging import AccessFormatter, DefaultFormatter

    access = logging.getLogger("uvicorn.access")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(AccessFormatter(ACCESS_FORMAT, use_colors=False))
    handler.addFilter(masked_access_record)  # the HireFire token is part of its URL
    access.handlers[:] = [handler]
    access.setLevel(logging.INFO)
    access.propagate = False
    errors = logging.getLogger("uvicorn.error")
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(DefaultFormatter("%(message)s", use_colors=False))
    out.addFilter(_QuietLifecycle())
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False))
    err.setLevel(logging.WARNING)
    err.addFilter(_not_cancelled)
    errors.handlers[:] = [out, err]
    errors.setLevel(logging.INFO)
    errors.propagate = False


class FairAcceptor:
    """Accept from a socket shared with other processes one connection at a time, then
    stop watching it for ``ACCEPT_PAUSE`` so the others, woken by the same readiness,
    take the next ones (asyncio and uvloop accept a whole burst per wake-up)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.closed = False
        self._pending: set[asyncio.Future[Any]] = set()

    def start(self) -> None:
        self.sock.setblocking(False)
        self.loop.add_reader(self.sock.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # out of descriptors, or similar: back off a little
            self._pause(0.1)
            return
        conn.setblocking(False)
        made = asyncio.ensure_future(self.loop.connect_accepted_socket(self.protocol_factory, conn))
        self._pending.add(made)
        made.add_done_callback(self._pending.discard)
        self._pause(ACCEPT_PAUSE)

    def _pause(self, seconds: float) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        if not self.closed:
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock.fileno())


def _is_websocket(connection: object) -> bool:
    return type(connection).__module__.startswith("uvicorn.protocols.websockets")


class GracefulUvicorn(uvicorn.Server):
    """``uvicorn.Server`` on an adopted socket, stopping like the Daphne engine."""

    def __init__(self, config: uvicorn.Config, setup: ServerSetup) -> None:
        super().__init__(config)
        self.setup = setup
        self.exit_code = 0
        self.stop_reason = ""
        self.acceptor: FairAcceptor | None = None
        self._parent = os.getppid()
        self._helpers: set[asyncio.Future[Any]] = set()

    def begin_shutdown(self, reason: str, exit_code: int = 0) -> None:
        """Ask for the graceful stop (repeated calls are ignored); the main loop notices
        within 0.1 s. Safe in a signal handler."""
        if self.should_exit:
            return
        self.stop_reason = reason
        self.exit_code = exit_code
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT start the graceful stop; unlike uvicorn's, not re-raised after."""

        def handler(signum: int, _frame: object) -> None:
            self.begin_shutdown(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:  # a late duplicate (every process of a dyno is signalled) is ignored
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if self.setup.shared and sockets:
            await self._start_fair(sockets[0])
        else:
            await super().startup(sockets=sockets)
        if not self.started:
            return
        if self.setup.background is not None:
            self.setup.background.start()
        self.setup.on_running(self)
        self._spawn(self._watch_parent())

    async def _start_fair(self, sock: socket.socket) -> None:
        await self.lifespan.startup()
        loop = asyncio.get_running_loop()
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )

        self.servers = []
        self.acceptor = FairAcceptor(loop, sock, create_protocol)
        self.acceptor.start()
        self.started = True

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _watch_parent(self) -> None:
        """A pre-forked child whose supervisor vanished shuts itself down."""
        while not self.should_exit:
            await asyncio.sleep(1.0)
            if os.getppid() != self._parent:
                self.begin_shutdown("supervisor exited")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, 1012 to every WebSocket, wait for requests and background jobs
        until the deadline, then cancel what is left."""
        state = self.server_state
        connections = list(state.connections)
        websockets = sum(1 for c in connections if _is_websocket(c))
        pid = os.getpid()
        requests = max(0, len(state.tasks) - websockets)
        timeout = self.setup.shutdown_timeout
        line = engines.stopping_line(self.stop_reason, websockets, requests, timeout, pid)
        log.runtime("web", line)
        hook = engines.run_stopping_hook(self.setup)
        if self.acceptor is not None:
            self.acceptor.close()
        for server in self.servers:
            server.close()
        background = self.setup.background
        if background is not None:
            background.stop_receiving()
        for connection in connections:
            connection.shutdown()  # WebSockets: 1012 + websocket.disconnect; idle HTTP: closed
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._busy():
            await asyncio.sleep(POLL_SECONDS)
        busy = background.busy if background is not None else 0
        if self._busy():
            log.runtime("web", engines.deadline_line(len(state.tasks), busy))
            for task in list(state.tasks):
                task.cancel()
            for connection in list(state.connections):
                connection.shutdown()
        else:
            log.runtime("web", engines.stopped_line(pid))
        if background is not None:
            await background.drain(0)
        if hook is not None:
            await asyncio.wait([hook])  # bounded by the hook itself

    def _busy(self) -> bool:
        state = self.server_state
        background = self.setup.background
        return bool(state.connections or state.tasks or (background and background.busy))


def serve(setup: ServerSetup) -> int:
    """Serve *setup* with uvicorn until stopped; the exit code."""
    configure_logging()
    sock = socket.socket(fileno=setup.fileno)
    server = GracefulUvicorn(config_for(setup), setup)
    try:
        server.run(sockets=[sock])
    finally:
        with contextlib.suppress(OSError):
            sock.close()
    return server.exit_code
