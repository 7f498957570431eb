"""Channels' per-message database clean-up, without the thread hop when it has nothing to do.

``AsyncConsumer.dispatch`` runs ``await aclose_old_connections()`` before every handler:
``sync_to_async(django.db.close_old_connections)()``, a hop to the sync thread and back
for each message (about 17 % of the web process's time in a WebSocket echo). In that thread
``close_old_connections()`` calls ``close_if_unusable_or_obsolete()`` on the connections
it initialised, and that method does nothing for one that has no open database connection.

So the hop can only matter while some database connection is open. Every connection Django
opens announces itself (``connection_created``, sent by ``connect()`` of every backend);
this module remembers those connection wrappers and, per message, hops only when one of
them, in any thread, holds an open connection. Otherwise the call it skips is one that
would have closed nothing. Consumers that use the database keep the clean-up exactly as
before (with ``CONN_MAX_AGE=0``, Django's advice under ASGI and our default, their
connections are already closed by ``database_sync_to_async`` on the way out).
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from typing import Any

_wrappers: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
# "hops": clean-ups run (a thread round trip each); "skips": skipped, no connection open
counts: Counter[str] = Counter()


def _remember(sender: Any, connection: Any, **_kwargs: Any) -> None:
    with _lock:
        _wrappers.add(connection)


def any_open() -> bool:
    """Whether any database connection this process opened is open now (any thread)."""
    with _lock:
        wrappers = list(_wrappers)
    return any(getattr(wrapper, "connection", None) is not None for wrapper in wrappers)


async def aclose_old_connections() -> None:
    """Channels' ``aclose_old_connections``, skipped while no connection is open."""
    if not any_open():
        counts["skips"] += 1
        return
    counts["hops"] += 1
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    await sync_to_async(close_old_connections)()


def install() -> bool:
    """Replace Channels' per-message clean-up in this process (Django settings loaded).

    Call before the application opens any database connection. Returns False, leaving
    Channels as it is, when this Channels version does not call it the known way.
    """
    try:
        import channels.consumer
        from django.db import connections
        from django.db.backends.signals import connection_created
    except Exception:
        return False
    current = getattr(channels.consumer, "aclose_old_connections", None)
    if current is aclose_old_connections:
        return True
    if current is None:
        return False
    connection_created.connect(_remember, weak=False)
    for wrapper in connections.all(initialized_only=True):  # opened before this call
        _remember(None, wrapper)
    channels.consumer.aclose_old_connections = aclose_old_connections
    return True
