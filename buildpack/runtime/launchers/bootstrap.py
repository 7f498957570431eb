"""Start-up shared by the web and worker launchers, after the settings are loaded
(:mod:`buildpack.runtime.config.loading`): the user's ASGI application, then one look at
each Redis host of the channel layer.

Order matters for speed and correctness: working directory and settings module first
(cheap, static), Django settings next (the settings layer hooks in here), the user's ASGI
application last.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from buildpack import log, messages
from buildpack.messages import LaunchError
from buildpack.runtime.config import loading
from buildpack.runtime.layers import host_address
from buildpack.runtime.layers.limits import fit_to_server
from buildpack.runtime.layers.resilience import is_certificate_error


def app_path_or_setting(app_path: str | None, command: str) -> str:
    """``module:attr`` from the argument, else from ``settings.ASGI_APPLICATION``."""
    if app_path:
        return app_path if ":" in app_path else f"{app_path}:application"
    target = getattr(loading.load_settings(), "ASGI_APPLICATION", None)
    if not target:
        raise LaunchError(messages.APP_PATH_UNKNOWN, command=command)
    module, _, attr = str(target).rpartition(".")
    return f"{module}:{attr}"


def import_application(app_path: str) -> Any:
    """Import the ASGI application; set Django up first only if the module needs it."""
    module_name, _, attr = app_path.partition(":")
    attr = attr or "application"
    try:
        module = _import(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            cwd = str(Path.cwd())
            raise LaunchError(messages.APP_MODULE_NOT_FOUND, module=module_name, cwd=cwd) from exc
        raise
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise LaunchError(messages.APP_ATTR_MISSING, module=module_name, attr=attr) from exc


def _import(module_name: str) -> Any:
    from django.core.exceptions import AppRegistryNotReady

    try:
        return importlib.import_module(module_name)
    except AppRegistryNotReady:
        # Routing modules that import consumers/models before calling get_asgi_application().
        import django

        django.setup(set_prefix=False)
        return importlib.import_module(module_name)


async def _ping(layer: Any, index: int) -> Any:
    return await layer.connection(index).ping()


async def probe_layer(
    layer: Any, timeout: float = 10.0, *, dyno_processes: int = 0, worker: bool = False
) -> None:
    """Reach every Redis host once at start; untrusted TLS is fatal, anything else a warning.

    Then fit this process's client budget to the server's limit and, with
    *dyno_processes* (this dyno runs that many processes like this one), warn when the
    formation this process can see needs more clients than Redis allows.
    """
    if layer is None:
        return
    await _probe_hosts(layer, timeout)
    await _fit_to_server(layer, timeout, dyno_processes, worker)


async def _fit_to_server(layer: Any, timeout: float, processes: int, worker: bool) -> None:
    pubsub = hasattr(layer, "_queue")
    fit = fit_to_server(layer, dyno_processes=processes, worker=worker, pubsub=pubsub)
    with contextlib.suppress(Exception):  # a start-up hint must never stop the start
        await asyncio.wait_for(fit, timeout)


async def _probe_hosts(layer: Any, timeout: float) -> None:
    addresses = [host_address(host) for host in getattr(layer, "hosts", None) or []]
    attempts: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    if hasattr(layer, "connection") and hasattr(layer, "ring_size"):
        attempts = [(addresses[i], partial(_ping, layer, i)) for i in range(layer.ring_size)]
    elif hasattr(layer, "group_send"):
        shown = ", ".join(addresses) or "the channel layer"
        attempts = [(shown, partial(layer.group_send, "cbp-probe", {"type": "probe"}))]
    for address, call in attempts:
        try:
            await asyncio.wait_for(call(), timeout)
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
            if is_certificate_error(exc):
                untrusted = "CERTIFICATE_VERIFY_FAILED"
                raise LaunchError(
                    messages.REDIS_TLS_UNTRUSTED, url=address, detail=untrusted
                ) from exc
            log.runtime_warning(
                "redis", messages.REDIS_UNREACHABLE_AT_START.format(url=address, detail=detail)
            )
