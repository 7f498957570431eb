"""Background-job helpers: enqueue through the stock layer, read what the consumers recorded."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.support.procs import ManagedProcess
from tests.support.redis import RedisServer

BATCH = 100


async def _enqueue(url: str, channel: str, ids: list[str], seconds: float) -> None:
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[url], capacity=len(ids) + 1000, expiry=600)
    try:
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            await asyncio.gather(
                *(
                    layer.send(channel, {"type": "job.run", "id": i, "seconds": seconds})
                    for i in batch
                )
            )
    finally:
        await layer.close_pools()


def enqueue(url: str, ids: list[str], seconds: float = 0.0, channel: str = "jobs") -> None:
    """Send job messages (stock channels_redis sender: interoperates with every reader)."""
    asyncio.run(_enqueue(url, channel, ids, seconds))


@dataclass
class JobTally:
    sent: int
    counts: dict[str, int]
    done_at: dict[str, float]

    @property
    def processed(self) -> int:
        return len(self.counts)

    @property
    def once(self) -> int:
        return sum(1 for c in self.counts.values() if c == 1)

    @property
    def duplicated_ids(self) -> int:
        return sum(1 for c in self.counts.values() if c > 1)

    @property
    def extra_runs(self) -> int:
        return sum(c - 1 for c in self.counts.values() if c > 1)

    @property
    def lost(self) -> int:
        return self.sent - self.processed

    @property
    def last_done(self) -> float:
        return max(self.done_at.values(), default=float("nan"))

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "processed": self.processed,
            "processed_once": self.once,
            "duplicated_ids": self.duplicated_ids,
            "extra_runs": self.extra_runs,
            "lost": self.lost,
            "max_times_one_id": max(self.counts.values(), default=0),
        }


def tally(redis: RedisServer, sent: int) -> JobTally:
    client = redis.client()
    counts = {k.decode(): int(v) for k, v in client.hgetall("bench:count").items()}
    done = {k.decode(): float(v) for k, v in client.hgetall("bench:done").items()}
    return JobTally(sent, counts, done)


def wait_settled(
    redis: RedisServer, sent: int, quiet: float, timeout: float, workers: list[ManagedProcess]
) -> JobTally:
    """Wait until every job was handled, or nothing changed for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last_change = time.monotonic()
    seen = (-1, -1)
    while time.monotonic() < deadline:
        current = tally(redis, sent)
        state = (current.processed, sum(current.counts.values()))
        if state != seen:
            seen, last_change = state, time.monotonic()
        if current.processed >= sent and time.monotonic() - last_change > min(quiet, 0.3):
            return current
        if time.monotonic() - last_change > quiet:
            return current
        if all(w.poll() is not None for w in workers):
            return current
        time.sleep(0.02)
    return tally(redis, sent)


CRASH = re.compile(r"^(?:redis\.exceptions\.)?(\w*(?:Error|Exception)): ?(.*)$", re.M)


def crash_reason(proc: ManagedProcess) -> str | None:
    """The last exception line of a worker that exited, e.g. ``TimeoutError: Timeout ...``."""
    if proc.poll() is None:
        return None
    matches = CRASH.findall(proc.output())
    if not matches:
        return f"exit code {proc.poll()}"
    name, text = matches[-1]
    return f"{name}: {text}"[:160]
