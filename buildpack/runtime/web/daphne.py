"""The Daphne engine: Daphne serving an inherited socket, with a graceful shutdown.

Import this module before anything imports ``twisted.internet.reactor``: it installs
Twisted's asyncio reactor, on a uvloop loop when uvloop is installed (see :mod:`.speedups`).

Stock Daphne on SIGTERM cancels every application instance and drops every socket: clients
see 1006, consumers' ``disconnect()`` never runs, group memberships stay in Redis until
``group_expiry`` (24 h). :meth:`GracefulServer.begin_shutdown` instead:

1. stops accepting (closes the listening port);
2. sends every open WebSocket a close frame, 1012 "Service Restart" (clients reconnect,
   to another dyno), so Daphne delivers ``websocket.disconnect`` and ``disconnect()`` runs;
3. lets in-flight HTTP requests and background handlers finish;
4. stops when nothing is left, or at the deadline, cancelling what remains.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from buildpack.runtime.web import speedups  # isort: skip

LOOP = speedups.install_uvloop_reactor()  # before daphne.server installs a stock one

from daphne import server as daphne_server  # noqa: E402  # isort: skip
from daphne.ws_protocol import WebSocketProtocol  # noqa: E402
from twisted.internet import reactor, tcp  # noqa: E402
from twisted.internet.endpoints import AdoptedStreamServerEndpoint  # noqa: E402

from buildpack import log, messages  # noqa: E402
from buildpack.runtime.ops.autoscale import masked_access_log  # noqa: E402
from buildpack.runtime.web import engines, forwarded, sockets  # noqa: E402
from buildpack.runtime.web.engines import (  # noqa: E402
    ACCEPT_PAUSE,
    POLL_SECONDS,
    SERVICE_RESTART,
    ServerSetup,
)

ADOPTED_ENDPOINT = "channels-buildpack:adopted-socket"
QUIET_AUTOBAHN = speedups.quiet_autobahn_debug()


def describe() -> str:
    """``Daphne 4.2.3 (Twisted 26.10.0, uvloop 0.23.0)`` for the start-up line."""
    loop = "uvloop " + engines.version("uvloop") if LOOP is not None else "asyncio"
    return f"Daphne {engines.version('daphne')} (Twisted {engines.version('twisted')}, {loop})"


class FairPort(tcp.Port):  # type: ignore[misc]
    """A listening port shared by several processes that lets each take its share.

    Twisted accepts up to 100 (and growing) queued connections per wake-up, and even one
    per wake-up is not enough: the awake process loops back and accepts again before the
    others are scheduled. So this port accepts one connection, then stops watching the
    socket for ``ACCEPT_PAUSE`` (1 ms) so the other processes, woken by the same
    readiness, accept the next ones. Cost: at most 1 ms per new connection per process;
    keep-alive and WebSocket connections are long-lived.

    The socket is watched again from the context the port started listening in: Twisted
    runs every delayed call from one shared timer, armed in the context of whichever
    ``callLater`` made it due soonest (a reply being sent, a request's thread...), and a
    connection accepted from there would begin in what that caller had set.
    """

    listening_context: contextvars.Context  # set by listen_success, which makes the port fair

    @property
    def numberAccepts(self) -> int:
        return 1

    @numberAccepts.setter
    def numberAccepts(self, value: int) -> None:
        pass  # Twisted adapts the batch size; keep it at one

    def doRead(self) -> Any:
        result = super().doRead()
        if self.connected and not self.disconnecting:
            self.stopReading()
            reactor.callLater(ACCEPT_PAUSE, self._resume_accepting)
        return result

    def _resume_accepting(self) -> None:
        if self.connected and not self.disconnecting:
            self.listening_context.copy().run(self.startReading)


class GracefulServer(daphne_server.Server):  # type: ignore[misc]
    """``daphne.server.Server`` listening on an adopted file descriptor, draining on stop."""

    def __init__(
        self,
        application: Any,
        *,
        fileno: int,
        family: int,
        shutdown_timeout: float,
        background: Any = None,
        on_running: Callable[[], None] | None = None,
        shared_socket: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(application, endpoints=[ADOPTED_ENDPOINT], signal_handlers=False, **kwargs)
        self._fileno = fileno
        self._family = family
        self.shutdown_timeout = shutdown_timeout
        self.background = background
        self.on_running = on_running
        # started when the stop begins (heartbeat removal); the stop waits for it, bounded
        self.on_stopping: Callable[[], asyncio.Future[None] | None] | None = None
        self._hook: asyncio.Future[None] | None = None
        self.ports: list[Any] = []
        self.shared_socket = shared_socket
        self.stopping = False
        self.exit_code = 0
        self._parent = os.getppid()

    # -- start-up ------------------------------------------------------------------------

    def run(self) -> None:
        """Daphne's own ``run()``, with our adopted socket in place of a parsed endpoint."""
        original = daphne_server.serverFromString

        def endpoint(reactor_: Any, description: str) -> Any:
            if description == ADOPTED_ENDPOINT:
                return AdoptedStreamServerEndpoint(reactor_, self._fileno, self._family)
            return original(reactor_, description)

        daphne_server.serverFromString = endpoint
        reactor.callWhenRunning(self._started)
        try:
            super().run()
        finally:
            daphne_server.serverFromString = original

    def listen_success(self, port: Any) -> None:
        if self.shared_socket and type(port) is tcp.Port:
            port.__class__ = FairPort
            port.listening_context = contextvars.copy_context()
        self.ports.append(port)
        super().listen_success(port)

    def _started(self) -> None:
        # Daphne >= 4.2.2 defaults to these; older ones had no limit.
        limit = engines.MAX_MESSAGE_BYTES
        self.ws_factory.setProtocolOptions(maxMessagePayloadSize=limit, maxFramePayloadSize=limit)
        if self.background is not None:
            self.background.start()
        if self.on_running is not None:
            try:
                self.on_running()
            except Exception:  # Twisted would swallow it: a half-started process must say so
                failure = traceback.format_exc().rstrip()
                log.runtime_error("web", messages.START_UP_FAILED.format(traceback=failure))
                self.begin_shutdown("start-up failed", exit_code=1)
                return
        reactor.callLater(1.0, self._watch_parent)

    def _watch_parent(self) -> None:
        """A pre-forked child whose supervisor vanished shuts itself down."""
        if not self.stopping and os.getppid() != self._parent:
            self.begin_shutdown("supervisor exited")
        elif not self.stopping:
            reactor.callLater(1.0, self._watch_parent)

    # -- shutdown ------------------------------------------------------------------------

    def _open_websockets(self) -> list[WebSocketProtocol]:
        return [
            p
            for p in list(self.connections)
            if isinstance(p, WebSocketProtocol) and p.state == WebSocketProtocol.STATE_OPEN
        ]

    def _pending_instances(self) -> int:
        return sum(
            1
            for details in self.connections.values()
            if details.get("application_instance") is not None
            and not details["application_instance"].done()
        )

    def begin_shutdown(self, reason: str, exit_code: int = 0) -> None:
        """Start the graceful stop (reactor thread only; repeated calls are ignored)."""
        if self.stopping:
            return
        self.stopping = True
        self.exit_code = exit_code
        sockets = self._open_websockets()
        requests = self._pending_instances() - len(sockets)
        log.runtime(
            "web",
            engines.stopping_line(
                reason, len(sockets), requests, self.shutdown_timeout, os.getpid()
            ),
        )
        for port in self.ports:
            port.stopListening()
        if self.background is not None:
            self.background.stop_receiving()
        self._close(sockets)
        self._hook = self.on_stopping() if self.on_stopping is not None else None
        self._poll(time.monotonic() + self.shutdown_timeout)

    @staticmethod
    def _close(sockets: list[WebSocketProtocol]) -> None:
        for protocol in sockets:
            # sendClose() only allows 1000/3000-4999; the frame-level call takes 1012.
            protocol.sendCloseFrame(code=SERVICE_RESTART, reasonUtf8=b"Service Restart")

    def _poll(self, deadline: float) -> None:
        self._close(self._open_websockets())  # sockets accepted after the signal
        pending = self._pending_instances()
        busy = self.background.busy if self.background is not None else 0
        hook = self._hook is not None and not self._hook.done()
        if (pending or busy or hook) and time.monotonic() < deadline:
            reactor.callLater(POLL_SECONDS, self._poll, deadline)
            return
        if pending or busy:
            log.runtime("web", engines.deadline_line(pending, busy))
        else:
            log.runtime("web", engines.stopped_line(os.getpid()))
        if self.background is None:
            reactor.stop()  # Daphne's shutdown trigger cancels anything left
            return
        drained = asyncio.ensure_future(self.background.drain(0))
        drained.add_done_callback(lambda _: reactor.stop())


# -- the engine entry point ---------------------------------------------------------------


def serve(setup: ServerSetup) -> int:
    """Serve *setup* with Daphne until stopped; the exit code."""
    from daphne.access import AccessLogGenerator

    forwarded.install(setup.hops)
    srv = GracefulServer(
        setup.application,
        fileno=setup.fileno,
        family=_family(setup.fileno),
        shutdown_timeout=setup.shutdown_timeout,
        background=setup.background,
        shared_socket=setup.shared,
        action_logger=masked_access_log(AccessLogGenerator(sys.stdout)),
        proxy_forwarded_address_header="X-Forwarded-For",
        proxy_forwarded_port_header="X-Forwarded-Port",
        proxy_forwarded_proto_header="X-Forwarded-Proto",
        ping_interval=engines.PING_INTERVAL,
        ping_timeout=engines.PING_TIMEOUT,
    )
    srv.on_running = lambda: setup.on_running(srv)
    srv.on_stopping = lambda: engines.run_stopping_hook(setup)
    _install_signals(srv)
    srv.run()
    return int(srv.exit_code)


def _family(fileno: int) -> int:
    return sockets.family_fd(fileno)


def _install_signals(srv: GracefulServer) -> None:
    def handler(signum: int, _frame: object) -> None:
        reactor.callFromThread(srv.begin_shutdown, signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
