"""Daphne, faster, without a fork: uvloop under Twisted's asyncio reactor, and no per-frame
debug-argument formatting in autobahn while debug logging is off.

Both are optional and guarded: without uvloop, Daphne runs on the stock asyncio loop; an
autobahn that lacks the patched names keeps its own behaviour. Neither changes what a user
sees, only the CPU each message costs (``shared/docs/web-engine.md`` measured about -25 %
and -12 %).
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from buildpack import envvars

# autobahn modules that format log arguments on every frame (``hltype``/``hlval``, which
# call ``click.style()`` whenever click is importable: uvicorn and flask bring it).
AUTOBAHN_HOT_MODULES = ("autobahn.websocket.protocol", "autobahn.twisted.websocket")
AUTOBAHN_FORMATTERS = ("hltype", "hlval")
DEBUG_LEVELS = ("debug", "trace")


def install_uvloop_reactor() -> asyncio.AbstractEventLoop | None:
    """Install Twisted's asyncio reactor on a uvloop loop; ``None`` when uvloop is missing
    or a reactor is already installed (Daphne then installs its own, as before).

    Call before anything imports ``daphne.server`` or ``twisted.internet.reactor``. Daphne
    sees an asyncio reactor and keeps it. The loop is handed over directly rather than
    through ``asyncio.set_event_loop_policy()``, deprecated since Python 3.14; so Daphne's
    own module-level loop, the one it gives an ``ASGI_THREADS`` executor, goes unused, and
    the executor is set here the same way.
    """
    if "twisted.internet.reactor" in sys.modules:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    from twisted.internet import asyncioreactor

    loop = uvloop.new_event_loop()
    loop.set_exception_handler(_without_aborted_requests)
    threads = envvars.ASGI_THREADS.raw()
    if threads is not None:
        loop.set_default_executor(ThreadPoolExecutor(max_workers=int(threads)))
    asyncioreactor.install(loop)
    return loop


def _without_aborted_requests(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The default handler, minus Django's "client went away" task at a forced stop.

    When the shutdown deadline cancels a request, Django's ``listen_for_disconnect`` task
    ends with ``RequestAborted`` that nobody retrieves. On the stock loop that goes unsaid;
    uvloop collects the task earlier and reports it with a traceback. Same outcome, so the
    same (empty) log.
    """
    if type(context.get("exception")).__name__ == "RequestAborted":
        return
    loop.default_exception_handler(context)


def _blank(*_args: object, **_kwargs: object) -> str:
    return ""


def _autobahn_debug_on() -> bool:
    """Whether autobahn's (txaio's) log level shows debug lines; True when unknown."""
    try:
        import txaio

        return str(txaio.get_global_log_level()).lower() in DEBUG_LEVELS
    except Exception:
        return True


def quiet_autobahn_debug() -> bool:
    """Stop autobahn formatting debug-log arguments on every frame while debug is off.

    ``self.log.debug("{func} ...", func=hltype(...), peer=hlval(...))`` evaluates its
    arguments even when the debug line is dropped. The two formatters, looked up as module
    globals at call time, are replaced by a function returning ``""`` in the modules on the
    per-frame path; they are only ever used as debug-log arguments there. Returns whether
    anything was replaced: nothing is when debug logging is on, or when an autobahn version
    lacks these names (it then runs as it always did).
    """
    import importlib

    modules = []
    for name in AUTOBAHN_HOT_MODULES:  # importing autobahn.twisted selects txaio's Twisted side
        try:
            modules.append(importlib.import_module(name))
        except Exception:
            continue
    if _autobahn_debug_on():
        return False
    patched = False
    for module in modules:
        if all(callable(getattr(module, attr, None)) for attr in AUTOBAHN_FORMATTERS):
            for attr in AUTOBAHN_FORMATTERS:
                setattr(module, attr, _blank)
            patched = True
    return patched
