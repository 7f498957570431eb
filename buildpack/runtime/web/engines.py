"""The web engines behind ``channels-buildpack web``, chosen with ``CHANNELS_WEB_SERVER``.

* ``daphne`` (default): Daphne on Twisted's asyncio reactor, on uvloop when installed
  (:mod:`.daphne`);
* ``uvicorn``: uvicorn run from code on the same adopted socket, with httptools, uvloop
  and websockets' sans-I/O protocol when installed (:mod:`.uvicorn`).

The launcher (:mod:`buildpack.runtime.launchers.web`) does everything engine-neutral:
binding, the supervisor, the settings, the application and its middleware (rejection log,
client address), the background channels. An engine module exposes ``describe() -> str``
(name and versions for the start-up line) and ``serve(setup) -> int`` (serve until stopped;
the exit code), and keeps the same promises: fair accepting on a shared socket,
TCP_NODELAY, 20 s pings, 1 MiB messages, an access line per request on stdout, and the
graceful stop described in :mod:`.daphne`, logged with the lines below.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from buildpack import envvars, log, messages
from buildpack.messages import ConfigError, LaunchError

DEFAULT = envvars.WEB_SERVER.default
MODULES = {name: f"buildpack.runtime.web.{name}" for name in envvars.WEB_SERVERS}  # by engine
SERVICE_RESTART = 1012  # the close code sent to every WebSocket on a graceful stop
PING_INTERVAL = 20  # seconds; the router closes WebSockets idle for 55 s
PING_TIMEOUT = 30
MAX_MESSAGE_BYTES = 1024 * 1024  # Daphne's limit since 4.2.2 (CVE-2026-44545)
POLL_SECONDS = 0.05  # how often a stopping engine looks whether it is done
ACCEPT_PAUSE = 0.001  # a process sharing the socket pauses this long after each accept
STOPPING_HOOK_SECONDS = 2.0


class Stopper(Protocol):
    """What the launcher may ask of a running engine."""

    def begin_shutdown(self, reason: str, exit_code: int = 0) -> None: ...


@dataclass
class ServerSetup:
    """What an engine serves, and how."""

    application: Any  # the ASGI application, already wrapped by the launcher's middleware
    fileno: int  # the listening socket, bound by the launcher
    shared: bool  # other processes accept on it too: take turns
    background: Any  # a ChannelWorker to run in this process (single-process mode), or None
    shutdown_timeout: float
    hops: int  # CHANNELS_PROXY_HOPS
    # called in the engine's event loop thread once accepting (Daphne: before the loop runs)
    on_running: Callable[[Stopper], None]
    # awaited in the event loop (at most STOPPING_HOOK_SECONDS) when the graceful stop begins
    on_stopping: Callable[[], Awaitable[None]] | None = None


def selected(environ: Mapping[str, str]) -> str:
    """The engine ``CHANNELS_WEB_SERVER`` names (default Daphne); LaunchError otherwise."""
    try:
        return envvars.web_server(environ)
    except ConfigError as exc:
        raise LaunchError(exc.template, **exc.data) from None


def load(name: str) -> ModuleType:
    """Import the engine module (Daphne's installs the Twisted reactor: import it first)
    and run its ``check()``, if any; LaunchError when it cannot run here."""
    try:
        module = importlib.import_module(MODULES[name])
    except ImportError as exc:
        missing = exc.name or str(exc)
        raise LaunchError(messages.WEB_SERVER_MISSING, engine=name, package=missing) from exc
    check = getattr(module, "check", None)
    if check is not None:
        check()
    return module


def load_selected(environ: Mapping[str, str], warn: Callable[[str], None]) -> ModuleType:
    """The engine ``CHANNELS_WEB_SERVER`` names, loaded; Daphne, with a warning, when that
    engine cannot run in this slug (set the variable, then restart without a build)."""
    name = selected(environ)
    try:
        return load(name)
    except LaunchError as exc:
        if name == DEFAULT:
            raise
        warn(str(exc))
        return load(DEFAULT)


def version(distribution: str) -> str:
    """An installed distribution's version, ``?`` when unknown."""
    try:
        return importlib.metadata.version(distribution)
    except Exception:
        return "?"


def with_versions(names: list[str]) -> str:
    """``uvloop 0.23.0, httptools 0.9.0`` for the installed ones among *names*."""
    return ", ".join(f"{name} {version(name)}" for name in names if version(name) != "?")


# -- what a stopping engine says (the same words from both) ---------------------------


def stopping_line(reason: str, websockets: int, requests: int, timeout: float, pid: int) -> str:
    return (
        f"stopping ({reason}): closing {websockets} WebSocket(s) with {SERVICE_RESTART}, "
        f"waiting for {requests} request(s) in flight, deadline {timeout:g} s (pid {pid})"
    )


def deadline_line(pending: int, busy: int) -> str:
    return f"deadline reached: cancelling {pending} connection(s) and {busy} background job(s)"


def stopped_line(pid: int) -> str:
    return f"stopped cleanly (pid {pid})"


def run_stopping_hook(setup: ServerSetup) -> asyncio.Future[None] | None:
    """Start ``setup.on_stopping`` in the running loop, bounded; its failure is only logged."""
    if setup.on_stopping is None:
        return None
    task = asyncio.ensure_future(asyncio.wait_for(setup.on_stopping(), STOPPING_HOOK_SECONDS))
    task.add_done_callback(_log_hook_failure)
    return task


def _log_hook_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.runtime_warning("web", messages.STOPPING_HOOK_FAILED.format(error=task.exception()))


def quiet_aborted_requests(loop: asyncio.AbstractEventLoop) -> None:
    """Keep Django's ``RequestAborted`` out of "Task exception was never retrieved".

    When the stop deadline cancels a request, Django's ASGI handler is cancelled while it
    waits on its own disconnect listener; that listener then receives the disconnect and
    ends with ``RequestAborted``, its expected end, which nobody retrieves. Everything else
    still reaches the loop's previous handler.
    """
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if type(exc).__name__ == "RequestAborted" and type(exc).__module__.startswith("django."):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
