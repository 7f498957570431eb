"""``channels-buildpack web [module:attr] [--chdir DIR]``: Daphne (or uvicorn, with
``CHANNELS_WEB_SERVER=uvicorn``: see :mod:`buildpack.runtime.web.engines`) on ``$PORT``, done right.

* binds ``$PORT`` first, on ``[::]`` dual-stack, before importing anything slow;
* proxy headers on (client address and https from the router; the address is the entry the
  router appended, not a client-written one: see ``forwarded``), pings every 20 s (the
  router closes sockets idle for 55 s), access log on stdout;
* ``WEB_CONCURRENCY`` > 1 with a cross-process layer: that many processes sharing
  the socket, supervised; with the in-memory layer: one process, and the log says why;
* single-process mode (no Redis): background channels are served in this process too;
* Django's sync request path in one thread hop (:mod:`buildpack.runtime.web.fastpath`,
  ``CHANNELS_HTTP_FAST_PATH``);
* graceful SIGTERM/SIGINT within ``CHANNELS_SHUTDOWN_TIMEOUT`` (default 25 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from buildpack import envvars, log, messages
from buildpack.messages import LaunchError
from buildpack.runtime.config import active_layer, loading
from buildpack.runtime.launchers import bootstrap
from buildpack.runtime.web import engines, fastpath, oldconns, sockets
from buildpack.runtime.web.supervisor import (
    CANNOT_START,
    SCALED,
    SINGLE,
    Supervisor,
    child_environment,
)

COMPONENT = "web"


def _number(variable: envvars.Variable[int]) -> int:
    """A whole-number variable; a bad value is one warning line and the default."""
    return envvars.whole_number(variable, warn=lambda text: log.runtime_warning(COMPONENT, text))


def main(args: argparse.Namespace) -> int:
    """Entry point; returns the exit code."""
    port = args.port or _number(envvars.PORT)
    try:
        engines.selected(os.environ)
        fastpath.enabled(os.environ)
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1
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
        loading.prepare(args.chdir, args.app)
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1
    requested = args.processes or _number(envvars.WEB_CONCURRENCY)
    if requested <= 1:
        return _serve(args, sock.detach(), child=False, where=where)
    return _supervise(args, sock, requested)


def _start_line(
    engine: Any, where: str, processes: int, settings: Any, single: bool, background: str
) -> str:
    here = f"; background channels {background} run here" if background else ""
    mode = (
        f"single-process (in-memory layer{here})"
        if single
        else "scaled (groups via the layer; background channels run in worker processes)"
    )
    fast = fastpath.describe(fastpath.enabled(os.environ))
    return (
        f"{engine.describe()} on {where} | processes {processes} | "
        f"layer {active_layer.describe(settings)} | mode {mode} | {fast} | pid {os.getpid()}"
    )


def _supervise(args: argparse.Namespace, sock: socket.socket, requested: int) -> int:
    """Pre-fork: process 0 loads the settings and reports the mode; the rest follow if the
    layer crosses processes. The supervisor itself never imports Django (it stays small)."""

    cwd = str(Path.cwd())

    def command_for(index: int, report_fd: int | None) -> list[str]:
        command = [sys.executable, "-m", "buildpack", "web"]
        command += [args.app] if args.app else []
        command += ["--chdir", cwd, "--child-fd", str(sock.fileno()), "--child-index", str(index)]
        command += ["--processes", str(requested)]
        return command + (["--report-fd", str(report_fd)] if report_fd is not None else [])

    quiet = child_environment({envvars.QUIET.name: "1"})  # the settings line: once, by process 0
    supervisor = Supervisor(sock, command_for, envvars.shutdown_timeout(), quiet)
    supervisor.install_signals()
    # Process 0 starts importing the app right away, prints the start-up lines and reports
    # whether the others may start (not with the in-memory layer).
    supervisor.start(requested, first_env=child_environment({}))
    return supervisor.supervise()


def _report_mode(args: argparse.Namespace, engine: Any, settings: Any, single: bool) -> None:
    """Process 0 of a pre-forked dyno: print the start-up lines and tell the supervisor."""
    requested = args.processes or 1
    if single and requested > 1:
        log.runtime_warning(COMPONENT, messages.FORK_REFUSED_MEMORY.format(requested=requested))
    processes = 1 if single else requested
    where = sockets.describe_fd(args.child_fd)
    log.runtime(COMPONENT, _start_line(engine, where, processes, settings, single, ""))
    try:
        os.write(args.report_fd, f"{SINGLE if single else SCALED}\n".encode("ascii"))
    except OSError:  # the supervisor is gone; its SIGTERM follows
        pass
    finally:
        os.close(args.report_fd)


def _serve(args: argparse.Namespace, fileno: int, *, child: bool, where: str = "") -> int:
    """Serve on *fileno* in this process (a pre-forked child, or the only process)."""
    if args.report_fd is not None:
        os.set_inheritable(args.report_fd, False)  # not for processes the app starts
    fatal = CANNOT_START if child else 1  # for errors a restart would meet again
    try:
        # First: the Daphne engine installs Twisted's reactor before anything imports one.
        engine = engines.load_selected(
            os.environ, lambda text: log.runtime_warning(COMPONENT, text)
        )
        if child:
            loading.prepare(args.chdir, args.app)
        settings = loading.load_settings()
        oldconns.install()  # before the app can open a database connection
        if fastpath.enabled(os.environ):
            fastpath.install()
        single = active_layer.single_process(settings)
        if args.report_fd is not None:
            _report_mode(args, engine, settings, single)
        application = bootstrap.import_application(bootstrap.app_path_or_setting(args.app, "web"))
    except LaunchError as exc:
        log.runtime_error(COMPONENT, str(exc))
        return 1  # may be passing (the app's import): the supervisor retries
    from channels.layers import get_channel_layer

    # late import: loaded after the port is bound (the platform's boot check waits for it)
    from buildpack.runtime.ops import autoscale, heartbeat
    from buildpack.runtime.web.rejections import RejectionLogger

    layer = get_channel_layer()
    application = autoscale.wrap(application, layer)  # off unless a metrics token is set
    background = _background(application, layer) if single and layer is not None else None
    if not child:
        names = ", ".join(background.channels) if background else ""
        log.runtime(COMPONENT, _start_line(engine, where, 1, settings, single, names))
    index = args.child_index if child else 0
    beats: list[heartbeat.Heartbeat] = []

    def on_running(running: engines.Stopper) -> None:
        log.runtime(COMPONENT, f"process {index} accepting connections (pid {os.getpid()})")
        # the engine's loop: Daphne calls this before its loop runs (no get_running_loop)
        engines.quiet_aborted_requests(asyncio.get_event_loop())
        processes = (args.processes or 1) if index == 0 else 0  # process 0 checks the formation
        _after_start(running, layer, beats, probe=not single, dyno_processes=processes, fatal=fatal)

    async def on_stopping() -> None:
        for beat in beats:  # status stops listing this process as it stops accepting
            await beat.stop()

    setup = engines.ServerSetup(
        application=RejectionLogger(_static_files_in_debug(application)),
        fileno=fileno,
        shared=child,
        background=background,
        shutdown_timeout=envvars.shutdown_timeout(),
        hops=_proxy_hops(),
        on_running=on_running,
        on_stopping=on_stopping,
    )
    exit_code = int(engine.serve(setup))
    # A dyno stop signals every process; a late duplicate must not kill us mid-exit.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return exit_code


def _background(application: Any, layer: Any) -> Any:
    # late import: loaded after the port is bound (the platform's boot check waits for it)
    from buildpack.runtime.launchers.background import ChannelWorker
    from buildpack.runtime.ops.background_channels import discover_channels

    channels = discover_channels(application)
    return ChannelWorker(application, channels, layer, component=COMPONENT) if channels else None


def _proxy_hops() -> int:
    """``CHANNELS_PROXY_HOPS``: how many proxies in front append to X-Forwarded-For."""
    hops = envvars.proxy_hops()
    if hops is None:  # not a whole number: _number says so and gives the default
        hops = _number(envvars.PROXY_HOPS)
    return hops


def _static_files_in_debug(application: Any) -> Any:
    """With DEBUG on, serve STATIC_URL like runserver does (local runs with honcho)."""
    from django.conf import settings

    if not settings.DEBUG or "django.contrib.staticfiles" not in settings.INSTALLED_APPS:
        return application
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    return ASGIStaticFilesHandler(application)


_PROBES: set[Any] = set()


def _after_start(
    running: engines.Stopper,
    layer: Any,
    beats: list[Any],
    *,
    probe: bool,
    dyno_processes: int,
    fatal: int,
) -> None:
    """Start-up work in the loop, in order: the Redis probe, which fits this process's client
    budget to the server (2 on a 20-client plan), then the heartbeat, whose commands would
    otherwise open a connection before that budget is known."""
    # late import: loaded after the port is bound (the platform's boot check waits for it)
    from buildpack.runtime.ops import heartbeat

    async def probe_then_beat() -> None:
        if probe:
            try:
                await bootstrap.probe_layer(layer, dyno_processes=dyno_processes)
            except LaunchError as exc:
                log.runtime_error(COMPONENT, str(exc))
                running.begin_shutdown("Redis certificate not trusted", exit_code=fatal)
                return
        beat = heartbeat.start(layer, COMPONENT, [])  # None with the in-memory layer
        beats.extend([beat] if beat is not None else [])

    task = asyncio.ensure_future(probe_then_beat())
    _PROBES.add(task)  # keep a reference until it is done
    task.add_done_callback(_PROBES.discard)
