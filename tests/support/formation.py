"""The issue-11 formation under load: web dynos, worker dynos and the app's own Redis
clients sharing one small Redis (``redis-server --maxclients 20`` in the tests).

WebSocket clients on every web dyno send background jobs (``{"job": ID}``: the consumer
sends it to the ``jobs`` channel) and a group message crosses from the first web dyno to
the last. Jobs are counted by id on a second Redis (the consumers record there), so the
count shows each job handled once, twice or never. Shared by
``tests/e2e/test_redis_formation.py`` and the bench family ``redis_budget`` (which also runs
the stock stack through it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.clients import ClientSampler
from tests.support.procs import ManagedProcess
from tests.support.redis import RedisServer
from tests.support.ws import WSConnection, observed_close_code, ws_connect

CROSS_GROUP = "formation-cross"


@dataclass
class WebDyno:
    name: str
    ws: str  # ws://127.0.0.1:PORT
    process: ManagedProcess


@dataclass
class FormationResult:
    """What happened: jobs by times handled, socket closes, clients, log problems."""

    sent: int  # jobs the sockets could send (all of them unless a socket was gone)
    failed_handshakes: int
    counts: dict[str, int]
    closes: Counter[int]
    group_crossed: bool
    server_peak: int  # connected_clients, the app's own clients included
    rejected: int  # connections Redis refused (INFO stats rejected_connections)
    dyno_peaks: dict[str, int]
    tracebacks: dict[str, int]
    seconds: float
    release_code: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def once(self) -> int:
        return sum(1 for count in self.counts.values() if count == 1)

    @property
    def duplicated(self) -> int:
        return sum(1 for count in self.counts.values() if count > 1)

    @property
    def lost(self) -> int:
        return self.sent - len(self.counts)

    def summary(self) -> dict[str, Any]:
        return {
            "jobs_sent": self.sent,
            "failed_handshakes": self.failed_handshakes,
            "handled_once": self.once,
            "duplicated": self.duplicated,
            "lost": self.lost,
            "ws_closed_by_server": dict(self.closes),
            "ws_1011": self.closes.get(1011, 0),
            "group_crossed": self.group_crossed,
            "peak_clients": self.server_peak,
            "refused_connections": self.rejected,
            "tracebacks": sum(self.tracebacks.values()),
            "seconds": self.seconds,
            "peak_clients_by_dyno": self.dyno_peaks,
        }


async def _drain(conn: WSConnection, seen: list[str], stop: asyncio.Event) -> None:
    """Read what the server sends (job results, relays) so its buffers never fill."""
    with contextlib.suppress(Exception):
        while not stop.is_set():
            message = await conn.recv()
            seen.append(message if isinstance(message, str) else message.decode())


class Formation:
    """Runs the load against dynos that are already up."""

    def __init__(
        self,
        redis: RedisServer,
        record: RedisServer,
        webs: list[WebDyno],
        workers: list[ManagedProcess],
        *,
        count_key: str = "rt:count",
        jobs: int = 1000,
        sockets_per_web: int = 20,
        timeout: float = 120.0,
    ) -> None:
        self.redis = redis
        self.record = record
        self.webs = webs
        self.workers = workers
        self.count_key = count_key
        self.jobs = jobs
        self.sockets_per_web = sockets_per_web
        self.timeout = timeout
        self._record_client: Any = None

    def counts(self) -> dict[str, int]:
        if self._record_client is None:
            self._record_client = self.record.client()
        raw = self._record_client.hgetall(self.count_key)
        return {k.decode(): int(v) for k, v in raw.items()}

    async def _cross(self) -> bool:
        """A group message from a socket on the first web dyno reaches one on the last."""
        first, last = self.webs[0], self.webs[-1]
        url = "/ws/group/" + CROSS_GROUP + "/"
        opened: list[WSConnection] = []
        try:
            sender = await ws_connect(first.ws + url, timeout=15)
            opened.append(sender)
            receiver = await ws_connect(last.ws + url, timeout=15)
            opened.append(receiver)
            await asyncio.sleep(0.3)  # both joined
            await sender.send(json.dumps({"broadcast": "crossed-dynos"}))
            deadline = asyncio.get_running_loop().time() + 15
            while asyncio.get_running_loop().time() < deadline:
                with contextlib.suppress(asyncio.TimeoutError):
                    frame = await asyncio.wait_for(receiver.recv(), 1)
                    if "crossed-dynos" in str(frame):
                        return True
            return False
        except Exception:  # the stock stack may refuse or close these sockets: not crossed
            return False
        finally:
            await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)

    async def _open(self, url: str, count: int) -> tuple[list[WSConnection], int]:
        """Open *count* sockets, 10 handshakes at a time; (open ones, failed handshakes)."""
        gate = asyncio.Semaphore(10)

        async def one() -> WSConnection:
            async with gate:
                return await ws_connect(url, timeout=15)

        results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
        opened = [r for r in results if not isinstance(r, BaseException)]
        return opened, count - len(opened)

    async def _send_jobs(self, sockets: list[tuple[str, WSConnection]]) -> int:
        """Send the jobs round-robin over the sockets; returns how many were sent."""
        sent = 0
        for round_number in range(-(-self.jobs // max(1, len(sockets)))):
            batch = []
            for index, (dyno, conn) in enumerate(sockets):
                job = round_number * len(sockets) + index
                if job < self.jobs:
                    batch.append(conn.send(json.dumps({"job": f"{dyno}-{index}-{job}"})))
            results = await asyncio.gather(*batch, return_exceptions=True)
            sent += sum(1 for r in results if not isinstance(r, BaseException))
        return sent

    async def _load(self) -> tuple[Counter[int], bool, int, int]:
        sockets: list[tuple[str, WSConnection]] = []
        failed = 0
        for web in self.webs:
            conns, refused = await self._open(
                f"{web.ws}/ws/group/{web.name}/", self.sockets_per_web
            )
            sockets += [(web.name, conn) for conn in conns]
            failed += refused
        stop = asyncio.Event()
        seen: list[str] = []
        readers = [asyncio.ensure_future(_drain(conn, seen, stop)) for _, conn in sockets]
        sent = await self._send_jobs(sockets)
        crossed = await self._cross()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        last, quiet_since = -1, loop.time()
        while loop.time() < deadline and len(self.counts()) < sent:
            handled = len(self.counts())
            if handled != last:
                last, quiet_since = handled, loop.time()
            elif loop.time() - quiet_since > 15:  # nothing moves any more: the rest is lost
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a duplicate would show up now
        closes: Counter[int] = Counter()
        for _, conn in sockets:
            code = observed_close_code(conn)
            if code is not None:
                closes[code] += 1
        stop.set()
        await asyncio.gather(*(conn.close() for _, conn in sockets), return_exceptions=True)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        return closes, crossed, sent, failed

    def run(self, release: Callable[[], ManagedProcess] | None = None) -> FormationResult:
        """Hold two clients of the app's own, run the load (and the release phase)."""
        own = [self.redis.client(), self.redis.client()]  # a cache and a counter
        own[1].ping()
        dynos = {web.name: web.process for web in self.webs}
        dynos.update({f"worker.{i + 1}": w for i, w in enumerate(self.workers)})
        started = time.monotonic()
        release_code = None
        with ClientSampler(dynos, self.redis.port, admin=own[0]) as sampler:
            phase = release() if release is not None else None
            if phase is not None:
                sampler.add("release", phase)
            closes, crossed, sent, failed = asyncio.run(self._load())
            if phase is not None:
                release_code = phase.wait(60)
        stats = own[0].info("stats")
        for client in own:
            client.close()
        return FormationResult(
            sent=sent,
            failed_handshakes=failed,
            counts=self.counts(),
            closes=closes,
            group_crossed=crossed,
            server_peak=sampler.result.server_peak + 1,  # + the sampling connection
            rejected=int(stats.get("rejected_connections", 0)),
            dyno_peaks=sampler.result.dyno_peak,
            tracebacks={n: p.output().count("Traceback") for n, p in dynos.items()},
            seconds=time.monotonic() - started,
            release_code=release_code,
        )
