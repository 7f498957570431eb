"""System checks for deployments of Channels apps (ids ``channels_buildpack.W0xx``).

Run by ``manage.py check --deploy``. Each message says what is wrong and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

from buildpack import envvars, messages
from buildpack.core.procfile import parse
from buildpack.core.rules import daphne_after_staticfiles
from buildpack.runtime.config import active_layer
from buildpack.runtime.config.layer_config import REDIS_BACKENDS
from buildpack.runtime.layers import MEMORY_BACKENDS, PUBSUB_BACKEND, STOCK_PUBSUB_BACKEND
from buildpack.runtime.layers.formation import (
    MINI_PLAN_CLIENTS,
    over_limit_message,
    search_places,
    visible_formation,
)

W001 = "channels_buildpack.W001"
W002 = "channels_buildpack.W002"
W003 = "channels_buildpack.W003"
W004 = "channels_buildpack.W004"
W005 = "channels_buildpack.W005"
W006 = "channels_buildpack.W006"
W007 = "channels_buildpack.W007"
_LOCAL_HOSTS = frozenset({"localhost", ".localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0"})


def _procfile_processes() -> dict[str, str]:
    for base in (Path.cwd(), Path(str(getattr(settings, "BASE_DIR", "")) or ".")):
        path = base / "Procfile"
        if path.is_file():
            return parse(path.read_text(encoding="utf-8", errors="replace"))
    return {}


def _web_concurrency() -> int:
    """WEB_CONCURRENCY as a number; a malformed value must not crash ``manage.py check``."""
    return envvars.whole_number(envvars.WEB_CONCURRENCY)


def _several_processes() -> str | None:
    dyno = envvars.DYNO.raw() or ""
    kind, index = envvars.dyno_kind_and_index()
    if kind == "worker" or (kind == "web" and index not in ("", "1")):
        return f"this is dyno {dyno}"
    processes = _procfile_processes()
    forks = "channels-buildpack web" not in processes.get("web", "")  # ours refuses to fork
    if _web_concurrency() > 1 and forks:
        return "WEB_CONCURRENCY > 1"
    others = [t for t in processes if t not in ("web", "release")]
    if others:
        return f"the Procfile runs {', '.join(others)} besides web"
    return None


def check_memory_layer(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W001: an in-memory layer cannot carry groups between processes."""
    backend = active_layer.backend(settings)
    reason = _several_processes() if backend in MEMORY_BACKENDS else None
    if not reason:
        return []
    return [
        checks.Warning(
            messages.CHECK_MEMORY_LAYER.format(backend=backend, reason=reason),
            hint=messages.CHECK_MEMORY_LAYER_HINT,
            id=W001,
        )
    ]


def check_redis_tls(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W002: Heroku's rediss:// uses a self-signed certificate."""
    if not envvars.on_dyno() or envvars.tls_verify(strict=False) is True:
        return []  # an explicit "verify" means the user brought a trusted certificate
    found = []
    for host in active_layer.hosts(settings):
        address = host.get("address") if isinstance(host, dict) else host
        tls = isinstance(address, str) and address.startswith("rediss://")
        if tls and not (isinstance(host, dict) and "ssl_cert_reqs" in host):
            found.append(host)
    if not found:
        return []
    return [checks.Warning(messages.CHECK_REDIS_TLS, hint=messages.CHECK_REDIS_TLS_HINT, id=W002)]


def check_allowed_hosts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W003: on a dyno, ALLOWED_HOSTS must contain the app's public host."""
    if not envvars.on_dyno():
        return []
    from django.http.request import validate_host

    allowed = list(getattr(settings, "ALLOWED_HOSTS", []) or [])
    platform_host = envvars.APP_HOST.value()
    if platform_host:
        missing = not validate_host(platform_host, allowed)
    else:
        missing = all(h in _LOCAL_HOSTS for h in allowed)
    if not missing:
        return []
    what = platform_host or messages.CHECK_PUBLIC_HOST
    return [
        checks.Warning(
            messages.CHECK_ALLOWED_HOSTS.format(allowed=allowed, what=what),
            hint=messages.CHECK_ALLOWED_HOSTS_HINT,
            id=W003,
        )
    ]


def check_csrf_origins(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W004: since Django 4.0 trusted origins need a scheme."""
    bad = [o for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or [] if "://" not in o]
    if not bad:
        return []
    return [
        checks.Warning(
            messages.CHECK_CSRF_SCHEME.format(origins=bad),
            hint=messages.CHECK_CSRF_SCHEME_HINT.format(
                origins=["https://" + o.lstrip(".") for o in bad]
            ),
            id=W004,
        )
    ]


def check_daphne_order(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W005: daphne must come before staticfiles to own runserver."""
    if not daphne_after_staticfiles(getattr(settings, "INSTALLED_APPS", [])):
        return []
    return [
        checks.Warning(messages.CHECK_DAPHNE_ORDER, hint=messages.CHECK_DAPHNE_ORDER_HINT, id=W005)
    ]


def _has_origin_validator(app: Any, depth: int = 0) -> bool:
    """Every WebSocket path through *app* passes an ``OriginValidator``: one wrapping it, or
    one on each route of a ``URLRouter`` (per-route validators, nested routers)."""
    from channels.security.websocket import OriginValidator

    if isinstance(app, OriginValidator):
        return True
    if depth > 12:
        return False
    routes = getattr(app, "routes", None)
    if isinstance(routes, (list, tuple)):
        callbacks = [getattr(route, "callback", None) for route in routes]
        return bool(callbacks) and all(
            callback is not None and _has_origin_validator(callback, depth + 1)
            for callback in callbacks
        )
    for attr in ("application", "inner", "app"):
        inner = getattr(app, attr, None)
        if inner is not None and inner is not app and _has_origin_validator(inner, depth + 1):
            return True
    return False


def check_origin_validation(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W006: WebSocket routes without origin validation accept cross-site sockets."""
    target = getattr(settings, "ASGI_APPLICATION", None)
    if not target:
        return []
    try:
        from channels.routing import ProtocolTypeRouter, get_default_application

        application = get_default_application()
    except Exception:  # the app cannot be imported here; other checks/launch will say why
        return []
    router = application
    while not isinstance(router, ProtocolTypeRouter) and hasattr(router, "application"):
        router = router.application
    websocket = getattr(router, "application_mapping", {}).get("websocket")
    if websocket is None or _has_origin_validator(websocket):
        return []
    return [
        checks.Warning(
            messages.CHECK_ORIGIN_VALIDATION.format(target=target),
            hint=messages.CHECK_ORIGIN_VALIDATION_HINT,
            id=W006,
        )
    ]


def _client_limit() -> tuple[int | None, str]:
    """The Redis plan's client limit from config vars: CHANNELS_REDIS_MAXCLIENTS, else the
    mini plan's 20 on a dyno with REDIS_URL (what bin/release provisions)."""
    limit = envvars.redis_maxclients()
    if limit is not None:
        return limit, ""
    if envvars.on_dyno() and envvars.REDIS_URL.raw():
        return MINI_PLAN_CLIENTS, messages.CHECK_CLIENT_LIMIT_ASSUMED.format(
            variable=envvars.REDIS_MAXCLIENTS.name
        )
    return None, ""


def check_redis_clients(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W007: the formation in view needs more Redis clients than the plan allows."""
    backend = active_layer.backend(settings)
    limit, assumed = _client_limit()
    if backend not in REDIS_BACKENDS or limit is None:
        return []
    pubsub = backend in (PUBSUB_BACKEND, STOCK_PUBSUB_BACKEND)
    base = Path(str(getattr(settings, "BASE_DIR", "")) or ".")
    formation = visible_formation(os.environ, search_places(os.environ, base), pubsub=pubsub)
    line = over_limit_message(
        formation, limit, where="The Redis plan", pubsub=pubsub, assumed=assumed
    )
    if line is None:
        return []
    problem, hint = messages.problem_and_fix(line)
    return [checks.Warning(problem, hint=hint, id=W007)]


ALL = (
    check_memory_layer,
    check_redis_tls,
    check_allowed_hosts,
    check_csrf_origins,
    check_daphne_order,
    check_origin_validation,
    check_redis_clients,
)


def register() -> None:
    """Register every check for ``check --deploy`` (idempotent)."""
    for check in ALL:
        checks.register(check, deploy=True)  # the registry is a set: re-registering is a no-op
