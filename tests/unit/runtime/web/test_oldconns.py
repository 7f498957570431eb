"""Channels' per-message ``aclose_old_connections`` hop, skipped only when it would do nothing.

Each scenario runs in a fresh interpreter with a real SQLite database and real Channels
consumers (``AsyncConsumer.dispatch``), ``CONN_MAX_AGE=0`` as under our settings layer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SETUP = """
import asyncio, django
from django.conf import settings
settings.configure(
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r},
                             "CONN_MAX_AGE": 0}}}},
    INSTALLED_APPS=[],
)
django.setup()
from buildpack.runtime.web import oldconns
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

async def dispatch(kinds):
    consumer = Consumer()
    consumer.scope = {{"type": "channel"}}
    opened = []
    for kind in kinds:
        await consumer.dispatch({{"type": kind}})
        opened.append(oldconns.any_open())  # a connection open after this message?
    return opened

opened = asyncio.run(dispatch({kinds!r}))
print(*opened, "|", oldconns.counts["hops"], oldconns.counts["skips"])
"""


def _run(tmp_path: Path, kinds: list[str]) -> str:
    code = SETUP.format(db=str(tmp_path / "db.sqlite3"), kinds=kinds)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        # consumers that never touch the database: no hop at all
        (["nothing", "nothing", "nothing"], "False False False | 0 3"),
        # a connection left open (plain sync_to_async) is closed by the next message's
        # clean-up, which hops because a connection is open; the first skipped (none yet)
        (["plain", "nothing", "nothing"], "True False False | 1 2"),
        # database_sync_to_async closes its own (CONN_MAX_AGE=0): later messages skip
        (["managed", "nothing", "nothing"], "False False False | 0 3"),
    ],
    ids=["no-database", "left-open", "database_sync_to_async"],
)
def test_the_clean_up_runs_exactly_when_a_connection_is_open(
    tmp_path: Path, kinds: list[str], expected: str
) -> None:
    assert _run(tmp_path, kinds) == expected
