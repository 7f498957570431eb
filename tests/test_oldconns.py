"""Channels' per-message ``aclose_old_connections`` hop, skipped only when it would do nothing.

Each scenario runs in a fresh interpreter with a real SQLite database and real Channels
consumers (``AsyncConsumer.dispatch``), ``CONN_MAX_AGE=0`` as under our settings layer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SETUP = """
import asyncio, django
from django.conf import settings
settings.configure(
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r},
                             "CONN_MAX_AGE": 0}}}},
    INSTALLED_APPS=[],
)
django.setup()
from buildpack.runtime.launchers import oldconns
assert oldconns.install()
from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from django.db import connection

def query():
    with connection.cursor() as cursor:
        cursor.execute("select 1")

class Consumer(AsyncConsumer):
    async def plain(self, message):       # the ORM through plain sync_to_async: the
        await sync_to_async(query)()      # connection stays open in the sync thread
    async def managed(self, message):
        await database_sync_to_async(query)()
    async def nothing(self, message):
        pass

async def dispatch(*kinds):
    consumer = Consumer()
    consumer.scope = {{"type": "channel"}}
    for kind in kinds:
        await consumer.dispatch({{"type": kind}})
"""


def _run(tmp_path: Path, body: str) -> str:
    code = SETUP.format(db=str(tmp_path / "db.sqlite3")) + body
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_messages_to_consumers_without_database_use_skip_the_hop(tmp_path: Path) -> None:
    body = (
        "asyncio.run(dispatch('nothing', 'nothing', 'nothing'))\n"
        "print(oldconns.counts['hops'], oldconns.counts['skips'])"
    )
    assert _run(tmp_path, body) == "0 3"


def test_a_connection_left_open_is_still_closed_by_the_next_message(tmp_path: Path) -> None:
    body = (
        "async def scenario():\n"
        "    await dispatch('plain')\n"
        "    left_open = oldconns.any_open()\n"
        "    await dispatch('nothing')  # the old connection is closed before this handler\n"
        "    print(left_open, oldconns.any_open(), oldconns.counts['hops'])\n"
        "asyncio.run(scenario())\n"
    )
    # the first message hopped for nothing (no connection yet: skipped); the second closed it
    assert _run(tmp_path, body) == "True False 1"


def test_database_sync_to_async_closes_its_own_and_later_messages_skip(tmp_path: Path) -> None:
    body = (
        "asyncio.run(dispatch('managed', 'nothing', 'nothing'))\n"
        "print(oldconns.any_open(), oldconns.counts['hops'], oldconns.counts['skips'])"
    )
    assert _run(tmp_path, body) == "False 0 3"
