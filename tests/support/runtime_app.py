"""What ``tests/fixtures/runtime_app`` records in Redis about the jobs it handled.

Its consumers count each job in the hash ``rt:<kind>`` (job -> times handled) and note who
handled it in ``rt:who:<kind>`` (job -> ``dyno:pid``), on the server ``RT_RECORD_URL`` names
(else the layer's own Redis).
"""

from __future__ import annotations

from tests.support.redis import RedisServer


def counts(record: RedisServer, kind: str = "count") -> dict[str, int]:
    """How many times each job was handled."""
    raw = record.client().hgetall(f"rt:{kind}")
    return {k.decode(): int(v) for k, v in raw.items()}


def handlers(record: RedisServer, kind: str = "count") -> dict[str, str]:
    """Which process handled each job (``dyno:pid``)."""
    raw = record.client().hgetall(f"rt:who:{kind}")
    return {k.decode(): v.decode() for k, v in raw.items()}
