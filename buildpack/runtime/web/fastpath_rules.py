"""Which requests the HTTP fast path (:mod:`.fastpath`) may serve: proof that Django's sync
handler chain is sync for them, made without running any of it.

Once per handler, at its first request and in a request thread (middleware factories may
touch the database), :func:`compute` checks that

* the handler class processes requests the way Django's ``ASGIHandler`` does (none of the
  methods the fast path bypasses is overridden: ``ASGIStaticFilesHandler`` is, for one);
* no middleware is async-only (``sync_capable = False``): Django's sync chain would run it
  through ``async_to_sync``, a hop the other way;
* Django's sync (WSGI) chain, built by ``load_middleware(is_async=False)`` on a copy of the
  handler, has no coroutine ``process_view``/``process_template_response``;

and notes whether the root URLconf has any async view. Then, per request, :func:`eligible`
checks what only the request can tell: no script prefix (``root_path``,
``FORCE_SCRIPT_NAME``), no async ``request_started`` receiver (Django runs those on the
event loop), a body Django keeps in memory (``Content-Length`` up to
``FILE_UPLOAD_MAX_MEMORY_SIZE``, not chunked), and, when the URLconf has async views, a
path that does not resolve to one.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from buildpack import messages

# What Django's ASGI path calls and the fast path replaces with the sync chain.
BYPASSED = (
    "get_response",
    "get_response_async",
    "_get_response",
    "_get_response_async",
    "load_middleware",
    "adapt_method_mode",
    "run_get_response",
)


@dataclass(frozen=True)
class Verdict:
    """What the fast path does for one handler."""

    chain: Any  # a copy of the handler holding Django's sync middleware chain; None: not used
    reason: str = ""  # why chain is None
    resolve_first: bool = False  # the root URLconf has async views: resolve each path first
    send_closes: bool = False  # Django's send_response closes the response itself (< 5.0.2)


def compute(handler: Any) -> Verdict:
    """The verdict for *handler* (an ``ASGIHandler``); call it in a request thread."""
    reason = _overridden(type(handler)) or _async_only_middleware()
    if reason:
        return Verdict(None, reason)
    chain = copy.copy(handler)  # same class and attributes; its own middleware lists
    chain.load_middleware(is_async=False)
    reason = _async_hooks([*chain._view_middleware, *chain._template_response_middleware])
    if reason:
        return Verdict(None, reason)
    return Verdict(chain, resolve_first=_has_async_views(), send_closes=_send_closes())


def eligible(verdict: Verdict, scope: Any) -> bool:
    """Whether this request may take the fast path (``verdict.chain`` set)."""
    from django.conf import settings
    from django.core.signals import request_started

    if scope.get("root_path") or settings.FORCE_SCRIPT_NAME:
        return False
    if _has_async_receivers(request_started):
        return False
    if not _body_in_memory(scope.get("headers", ()), settings.FILE_UPLOAD_MAX_MEMORY_SIZE):
        return False
    return not (verdict.resolve_first and _resolves_to_async_view(scope["path"]))


def _send_closes() -> bool:
    """Django before 5.0.2 closes the response at the end of ``send_response``; later
    versions close it in ``handle``, after the send."""
    import django

    return tuple(django.VERSION[:3]) < (5, 0, 2)


def _overridden(cls: type) -> str:
    from django.core.handlers.asgi import ASGIHandler

    for name in BYPASSED:
        if getattr(cls, name, None) is not getattr(ASGIHandler, name, None):
            name_of = f"{cls.__module__}.{cls.__qualname__}"
            return messages.FAST_PATH_OVERRIDDEN.format(handler=name_of, method=name)
    return ""


def _async_only_middleware() -> str:
    from django.conf import settings
    from django.utils.module_loading import import_string

    for path in settings.MIDDLEWARE:
        if not getattr(import_string(path), "sync_capable", True):
            return messages.FAST_PATH_ASYNC_MIDDLEWARE.format(path=path)
    return ""


def _async_hooks(hooks: Iterable[Any]) -> str:
    from asgiref.sync import AsyncToSync

    for hook in hooks:
        if isinstance(hook, AsyncToSync):
            name = getattr(hook.awaitable, "__qualname__", hook.awaitable)
            return messages.FAST_PATH_ASYNC_HOOK.format(hook=name)
    return ""


def _has_async_views() -> bool:
    """Whether the root URLconf has an async view (or a pattern this cannot tell about)."""
    from django.urls import get_resolver

    try:
        return _any_async(get_resolver().url_patterns)
    except Exception:  # resolving will raise it again, in Django's own place
        return True


def _any_async(patterns: Iterable[Any]) -> bool:
    from asgiref.sync import iscoroutinefunction

    for pattern in patterns:
        nested = getattr(pattern, "url_patterns", None)
        if nested is not None:
            if _any_async(nested):
                return True
            continue
        callback = getattr(pattern, "callback", None)
        if callback is None or iscoroutinefunction(callback):
            return True
    return False


def _resolves_to_async_view(path: str) -> bool:
    from django.urls import get_resolver

    return _async_view(get_resolver(), path)


@functools.lru_cache(maxsize=1024)  # paths repeat; the resolver is Django's cached one
def _async_view(resolver: Any, path: str) -> bool:
    from asgiref.sync import iscoroutinefunction
    from django.urls import Resolver404

    try:
        match = resolver.resolve(path)
    except Resolver404:
        return False  # the sync chain answers 404 (or CommonMiddleware redirects)
    except Exception:
        return True  # let Django's own path raise it
    return bool(iscoroutinefunction(match.func))


def _has_async_receivers(signal: Any) -> bool:
    """Whether *signal* has an async receiver (Django 5.0+ stores ``is_async`` last)."""
    return any(len(entry) > 2 and entry[-1] is True for entry in signal.receivers)


def _body_in_memory(headers: Iterable[tuple[bytes, bytes]], limit: int) -> bool:
    """Whether Django keeps this request's body in memory (not chunked, not over *limit*)."""
    for name, value in headers:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return False
            except ValueError:
                return False
        elif name == b"transfer-encoding":
            return False
    return True
