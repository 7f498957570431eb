"""``channels-buildpack web [module:attr] [--chdir DIR]``: Daphne on ``$PORT``, done right.

* binds ``$PORT`` first, on ``[::]`` dual-stack, before importing anything slow;
* proxy headers on (client address and https from the router; the address is the entry the
  router appended, not a client-written one: see ``forwarded``), pings every 20 s (the
  router closes sockets idle for 55 s), access log on stdout;
* ``WEB_CONCURRENCY`` > 1 with a cross-process layer: that many Daphne processes sharing
  the socket, supervised; with the in-memory layer: one process, and the log says why;
* single-process mode (no Redis): background channels are served in this process too;
* graceful SIGTERM/SIGINT within ``CHANNELS_SHUTDOWN_TIMEOUT`` (default 25 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from buildpack import log, messages
from buildpack.runtime.launchers import bootstrap, forwarded, sockets
from buildpack.runtime.launchers.bootstrap import LaunchError
from buildpack.runtime.launchers.supervisor import SCALED, SINGLE

COMPONENT = "web"
DEFAULT_PORT = 8000
DEFAULT_SHUTDOWN_TIMEOUT = 25.0
PING_INTERVAL = 20
PING_TIMEOUT = 30


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        log.runtime_warning(
            COMPONENT, messages.ENV_NOT_A_NUMBER.format(name=name, value=raw, default=default)
        )
        return default


def shutdown_timeout() -> float:
    """Seconds allowed for a graceful stop (Heroku sends SIGKILL 30 s after SIGTERM)."""
    raw = os.environ.get("CHANNELS_SHUTDOWN_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_SHUTDOWN_TIMEOUT
    except ValueError:
        value = DEFAULT_SHUTDOWN_TIMEOUT
    return value if value > 0 else DEFAULT_SHUTDOWN_TIMEOUT


def describe_layer(settings: Any) -> str:
    """``Backend (redacted hosts)`` from settings, without connecting."""
    from buildpack.redact import redact_url

    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    default = layers.get("default") or {}
    backend = str(default.get("BACKEND", "none"))
    hosts = (default.get("CONFIG") or {}).get("hosts") or []
    shown = []
    for host in hosts:
        address = host.get("address", host.get("host")) if isinstance(host, dict) else host
        shown.append(redact_url(str(address)) if "://" in str(address) else str(address))
    return f"{backend} ({', '.join(shown)})" if shown else backend


def _daphne_version() -> str:
    try:
        import importlib.metadata

        return importlib.metadata.version("daphne")
    except Exception:
        return "?"


def main(args: argparse.Namespace) -> int:
    """Entry point; returns the exit code."""
    port = args.port or _int_env("PORT", DEFAULT_PORT)
    if args.child_fd is not None:
        return _serve(args, args.child_fd, child=True)
    try:
        sock, where = sockets.listen(args.bind, port)
    except OSError as exc:
        log.runtime_error(
            COMPONENT, messages.CANNOT_LISTEN.format(port=port, error=exc.strerror or exc)
        )
        return 1
    try:
        bootstrap.prepare(args.chdir, args.app)
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1
    requested = args.processes or _int_env("WEB_CONCURRENCY", 1)
    if requested <= 1:
        return _serve(args, sock.detach(), child=False, where=where)
    return _supervise(args, sock, requested)


def _start_line(where: str, processes: int, settings: Any, single: bool, background: str) -> str:
    here = f"; background channels {background} run here" if background else ""
    mode = (
        f"single-process (in-memory layer{here})"
        if single
        else "scaled (groups via the layer; background channels run in worker processes)"
    )
    return (
        f"Daphne {_daphne_version()} on {where} | processes {processes} | "
        f"layer {describe_layer(settings)} | mode {mode} | pid {os.getpid()}"
    )


def _supervise(args: argparse.Namespace, sock: socket.socket, requested: int) -> int:
    """Pre-fork: process 0 loads the settings and reports the mode; the rest follow if the
    layer crosses processes. The supervisor itself never imports Django (it stays small)."""
    from buildpack.runtime.config.settings import QUIET
    from buildpack.runtime.launchers.supervisor import Supervisor, child_environment

    cwd = str(Path.cwd())

    def command_for(index: int, report_fd: int | None) -> list[str]:
        command = [sys.executable, "-m", "buildpack", "web"]
        command += [args.app] if args.app else []
        command += ["--chdir", cwd, "--child-fd", str(sock.fileno()), "--child-index", str(index)]
        command += ["--processes", str(requested)]
        return command + (["--report-fd", str(report_fd)] if report_fd is not None else [])

    supervisor = Supervisor(sock, command_for, shutdown_timeout(), child_environment({QUIET: "1"}))
    supervisor.install_signals()
    # Process 0 starts importing the app right away, prints the start-up lines and reports
    # whether the others may start (not with the in-memory layer).
    supervisor.start(requested, first_env=child_environment({}))
    return supervisor.supervise()


def _report_mode(args: argparse.Namespace, settings: Any, single: bool) -> None:
    """Process 0 of a pre-forked dyno: print the start-up lines and tell the supervisor."""
    requested = args.processes or 1
    if single and requested > 1:
        log.runtime_warning(COMPONENT, messages.FORK_REFUSED_MEMORY.format(requested=requested))
    processes = 1 if single else requested
    where = sockets.describe_fd(args.child_fd)
    log.runtime(COMPONENT, _start_line(where, processes, settings, single, ""))
    try:
        os.write(args.report_fd, f"{SINGLE if single else SCALED}\n".encode("ascii"))
    except OSError:  # the supervisor is gone; its SIGTERM follows
        pass
    finally:
        os.close(args.report_fd)


def _serve(args: argparse.Namespace, fileno: int, *, child: bool, where: str = "") -> int:
    """Serve on *fileno* in this process (a pre-forked child, or the only process)."""
    from buildpack.runtime.launchers import server  # first: installs Twisted's asyncio reactor

    if args.report_fd is not None:
        os.set_inheritable(args.report_fd, False)  # not for processes the app starts
    try:
        if child:
            bootstrap.prepare(args.chdir, args.app)
        settings = bootstrap.load_settings()
        single = bootstrap.single_process(settings)
        if args.report_fd is not None:
            _report_mode(args, settings, single)
        application = bootstrap.import_application(bootstrap.app_path_or_setting(args.app, "web"))
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    background = _background(application, layer) if single and layer is not None else None
    if not child:
        names = ", ".join(background.channels) if background else ""
        log.runtime(COMPONENT, _start_line(where, 1, settings, single, names))
    family = sockets.family_fd(fileno)
    srv = _build_server(server, application, fileno, family, background, shared=child)
    index = args.child_index if child else 0

    def on_running() -> None:
        log.runtime(COMPONENT, f"process {index} accepting connections (pid {os.getpid()})")
        if not single:
            _probe(srv, layer, check_clients=index == 0, processes=args.processes or 1)

    srv.on_running = on_running
    _install_signals(srv)
    srv.run()
    # A dyno stop signals every process; a late duplicate must not kill us mid-exit.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return int(srv.exit_code)


def _background(application: Any, layer: Any) -> Any:
    from buildpack.runtime.launchers.background import ChannelWorker, discover_channels

    channels = discover_channels(application)
    return ChannelWorker(application, channels, layer, component=COMPONENT) if channels else None


def _build_server(
    server: Any, application: Any, fileno: int, family: int, background: Any, *, shared: bool
) -> Any:
    from daphne.access import AccessLogGenerator

    from buildpack.runtime.launchers.rejections import RejectionLogger

    address_header = _forwarded_address_header()
    return server.GracefulServer(
        RejectionLogger(_static_files_in_debug(application)),
        fileno=fileno,
        family=family,
        shutdown_timeout=shutdown_timeout(),
        background=background,
        shared_socket=shared,
        action_logger=AccessLogGenerator(sys.stdout),
        proxy_forwarded_address_header=address_header,
        proxy_forwarded_port_header="X-Forwarded-Port",
        proxy_forwarded_proto_header="X-Forwarded-Proto",
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
    )


def _forwarded_address_header() -> str:
    """Daphne's address header, narrowed to the entry the trusted proxies wrote (none at
    all with ``CHANNELS_PROXY_HOPS=0``)."""
    hops = forwarded.configured_hops(os.environ)
    if hops is None:  # not a whole number: _int_env says so and gives the default
        hops = _int_env(forwarded.HOPS_VARIABLE, forwarded.DEFAULT_HOPS)
    forwarded.install(hops)
    return "X-Forwarded-For"


def _static_files_in_debug(application: Any) -> Any:
    """With DEBUG on, serve STATIC_URL like runserver does (local runs with honcho)."""
    from django.conf import settings

    if not settings.DEBUG or "django.contrib.staticfiles" not in settings.INSTALLED_APPS:
        return application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    return ASGIStaticFilesHandler(application)


def _probe(srv: Any, layer: Any, *, check_clients: bool, processes: int) -> None:
    async def probe() -> None:
        try:
            await bootstrap.probe_layer(layer, dyno_processes=processes if check_clients else 0)
        except LaunchError as exc:
            log.runtime_error(COMPONENT, str(exc))
            srv.begin_shutdown("Redis certificate not trusted", exit_code=1)

    import asyncio

    srv.probe_task = asyncio.ensure_future(probe())


def _install_signals(srv: Any) -> None:
    from twisted.internet import reactor

    def handler(signum: int, _frame: object) -> None:
        reactor.callFromThread(srv.begin_shutdown, signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
