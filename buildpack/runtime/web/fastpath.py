"""The HTTP fast path: Django's sync request path in one thread hop (``CHANNELS_HTTP_FAST_PATH``,
on by default in the web process).

Under ASGI, Django runs each sync middleware's ``process_request``/``process_response``, the
view and the ``request_started`` signal through its own ``sync_to_async`` call, about ten
round trips to a thread per request, and it starts a new thread for every request (asgiref's
``ThreadSensitiveContext``). For a request whose middleware and view are provably sync
(:mod:`.fastpath_rules`) this path makes one ``sync_to_async`` call, in which the request's thread
sends ``request_started``, creates the request, runs Django's sync (WSGI) middleware chain,
has the event loop send the response with Django's own ``send_response`` (``async_to_sync``,
so thread-sensitive work while sending comes back to this thread, as in Django), then closes
the response (``request_finished``), after the send, as Django does. Anything else goes
through Django's own ``handle``. The server's ``send`` and ``receive`` themselves run in the
context the server called Django in: what the server starts while sending (the next request
of a keep-alive or pipelined connection, its timers, a listening socket it watches again)
must inherit neither the request thread's ``async_to_sync`` executor nor the request's
``ThreadSensitiveContext``, both gone once the request ends.

Every request, fast or not, gets its thread-sensitive thread from a pool: a thread serves one
request at a time and is reused afterwards (as under WSGI), instead of being started and
joined per request. It is registered as the request's ``ThreadSensitiveContext`` executor,
so ``sync_to_async`` calls of the request (Django's, Channels', the app's) run on it, and
``async_to_sync`` in a view comes back to it, exactly where Django would run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from buildpack import envvars, log, messages
from buildpack.messages import ConfigError, LaunchError
from buildpack.runtime.web import fastpath_rules

IDLE_THREADS = 32  # request threads kept for reuse; more are started when requests need them
VERDICT = "_channels_buildpack_http_plan"  # where a handler's verdict is kept (its instance dict)
INSTALLED = "_channels_buildpack_fast_path"  # marks our ASGIHandler.handle
Handle = Callable[[Any, Any, Any, Any], Awaitable[None]]


def enabled(environ: Mapping[str, str]) -> bool:
    """``CHANNELS_HTTP_FAST_PATH`` (default on); LaunchError, one line, for a bad value."""
    try:
        return envvars.http_fast_path(environ)
    except ConfigError as exc:
        raise LaunchError(exc.template, **exc.data) from None


def describe(on: bool) -> str:
    """The start-up line's part."""
    return messages.FAST_PATH_ON if on else messages.FAST_PATH_OFF


def install() -> None:
    """Route Django's ``ASGIHandler.handle`` through the fast path, and have its
    ``__call__`` note the context the server called it in (this process only)."""
    from django.core.handlers.asgi import ASGIHandler

    original = ASGIHandler.handle
    if getattr(original, INSTALLED, False):
        return
    original_call = ASGIHandler.__call__

    async def call(self: Any, scope: Any, receive: Any, send: Any) -> None:
        _CALLED_IN.set(contextvars.copy_context())  # before Django's ThreadSensitiveContext
        await original_call(self, scope, receive, send)

    async def handle(self: Any, scope: Any, receive: Any, send: Any) -> None:
        await _handle(self, original, scope, receive, send)

    for ours, theirs in ((call, original_call), (handle, original)):
        functools.update_wrapper(ours, theirs)
        setattr(ours, INSTALLED, True)
    ASGIHandler.__call__ = call
    ASGIHandler.handle = handle


class Workers:
    """Request threads: one request at a time each, reused; up to ``idle`` kept idle."""

    def __init__(self, idle: int) -> None:
        self.idle = idle
        self._free: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()

    def acquire(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._free:
                return self._free.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-request")

    def release(self, worker: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._free) < self.idle:
                self._free.append(worker)
                return
        worker.shutdown(wait=False)


WORKERS = Workers(IDLE_THREADS)
# The context the server called Django's handler in, before Django entered the request's
# ThreadSensitiveContext: where the server's own send and receive run (see the docstring).
_CALLED_IN: contextvars.ContextVar[contextvars.Context] = contextvars.ContextVar(
    "channels_buildpack_called_in"
)
_PLAN_LOCK = threading.Lock()


async def _handle(handler: Any, original: Handle, scope: Any, receive: Any, send: Any) -> None:
    with _request_thread() as pooled:
        if not pooled:  # no context of Django's own to give a thread to: Django's path as is
            await original(handler, scope, receive, send)
            return
        verdict = handler.__dict__.get(VERDICT) or await _in_thread(_verdict_once, handler)
        if verdict.chain is None or not fastpath_rules.eligible(verdict, scope):
            await original(handler, scope, receive, send)
        else:
            await _serve(handler, verdict, scope, receive, send)


@contextlib.contextmanager
def _request_thread() -> Iterator[bool]:
    """Give the request's ``ThreadSensitiveContext`` (entered by ``ASGIHandler.__call__``) a
    pooled thread; yields whether it did (not when a sync parent thread or an executor
    already decides where thread-sensitive calls run)."""
    from asgiref.sync import AsyncToSync, SyncToAsync

    context = SyncToAsync.thread_sensitive_context.get(None)
    executors = SyncToAsync.context_to_thread_executor
    parent = getattr(AsyncToSync.executors, "current", None)
    if context is None or parent is not None or context in executors:
        yield False
        return
    worker = WORKERS.acquire()
    executors[context] = worker
    try:
        yield True
    finally:
        if executors.get(context) is worker:
            del executors[context]  # before the context exits, which would shut it down
        WORKERS.release(worker)


def _verdict_once(handler: Any) -> fastpath_rules.Verdict:
    """*handler*'s verdict, computed once (in a request thread); says once when it is not used."""
    with _PLAN_LOCK:
        verdict: fastpath_rules.Verdict | None = handler.__dict__.get(VERDICT)
        if verdict is not None:
            return verdict
        try:
            verdict = fastpath_rules.compute(handler)
        except Exception as exc:  # Django's path will meet it in its own place
            verdict = fastpath_rules.Verdict(
                None, messages.FAST_PATH_CHAIN_FAILED.format(error=repr(exc))
            )
        if verdict.chain is None:
            log.runtime("web", messages.FAST_PATH_UNUSED.format(reason=verdict.reason))
        handler.__dict__[VERDICT] = verdict
        return verdict


async def _serve(
    handler: Any, verdict: fastpath_rules.Verdict, scope: Any, receive: Any, send: Any
) -> None:
    """Django's ``ASGIHandler.handle``, everything it runs in the request's thread run there
    in one hop (:func:`_respond`)."""
    from django.core.exceptions import RequestAborted
    from django.urls import set_script_prefix

    try:
        body_file = await handler.read_body(receive)
    except RequestAborted:
        return
    set_script_prefix("")  # eligible: neither root_path nor FORCE_SCRIPT_NAME
    context = _CALLED_IN.get(None)  # a Context is a mapping: an empty one is falsy
    if context is None:
        context = contextvars.copy_context()
    receive, send = _run_in(context, receive), _run_in(context, send)
    await _in_thread(_respond, handler, verdict, scope, body_file, receive, send)
    body_file.close()


def _run_in(context: contextvars.Context, call: Callable[..., Any]) -> Callable[..., Any]:
    """*call* (the server's ``send`` or ``receive``), each call run as a task of its own in
    a copy of *context* (the one Django was called in), not in the request thread's
    ``async_to_sync`` context it is awaited from."""

    async def in_context(*args: Any) -> Any:
        return await context.run(asyncio.ensure_future, call(*args))

    return in_context


def _respond(
    handler: Any,
    verdict: fastpath_rules.Verdict,
    scope: Any,
    body_file: Any,
    receive: Any,
    send: Any,
) -> None:
    """In the request thread: ``request_started``, the request, the sync chain's response;
    the response sent by the event loop (``async_to_sync``: thread-sensitive calls made while
    sending, a sync stream's iteration among them, come back to this thread), then closed
    here (``request_finished``), as Django's ``sync_to_async(response.close)`` would."""
    response, created = _response(handler, verdict.chain, scope, body_file)
    if not created:  # the request could not be created: Django's error response
        body_file.close()
    _in_loop(_send, handler, response, receive, send)
    if not verdict.send_closes:
        response.close()


def _response(handler: Any, chain: Any, scope: Any, body_file: Any) -> tuple[Any, bool]:
    from django.core import signals
    from django.http import FileResponse

    signals.request_started.send(sender=handler.__class__, scope=scope)
    request, error_response = handler.create_request(scope, body_file)
    if request is None:
        return error_response, False
    response = chain.get_response(request)
    response._handler_class = handler.__class__
    if isinstance(response, FileResponse):
        response.block_size = handler.chunk_size
    return response, True


async def _send(handler: Any, response: Any, receive: Any, send: Any) -> None:
    """Django's ``send_response``; a streaming response stops when the client disconnects,
    as in Django's handler (4.2 has no such listener and streams on)."""
    listen = getattr(handler, "listen_for_disconnect", None)
    if not response.streaming or listen is None:
        await handler.send_response(response, send)
        return
    from django.core.exceptions import RequestAborted

    async def stream() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the client went away
            await handler.send_response(response, send)

    tasks = [asyncio.ensure_future(listen(receive)), asyncio.ensure_future(stream())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            continue
        with contextlib.suppress(RequestAborted):
            task.result()


_BRIDGES: dict[Callable[..., Any], Callable[..., Any]] = {}


def _in_thread(function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    """``sync_to_async(function, thread_sensitive=True)(*args)``, the wrapper made once."""
    hop = _BRIDGES.get(function)
    if hop is None:
        from asgiref.sync import sync_to_async

        hop = _BRIDGES[function] = sync_to_async(function, thread_sensitive=True)
    return hop(*args)  # type: ignore[no-any-return]


def _in_loop(function: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``async_to_sync(function)(*args)`` from the request thread, the wrapper made once."""
    bridge = _BRIDGES.get(function)
    if bridge is None:
        from asgiref.sync import async_to_sync

        bridge = _BRIDGES[function] = async_to_sync(function)
    return bridge(*args)
