"""Redis faults for real processes, and a chat + jobs load that tells what each fault cost.

Faults act on a :class:`~tests.support.redis.RedisServer` the dynos use as their channel
layer: a stall (``SIGSTOP``/``SIGCONT``), a restart that comes back empty on the same port
(what a Heroku Key-Value Store mini reboot looks like), every client connection killed,
and a full Redis (``maxmemory`` reached under ``noeviction``).

:class:`RoomLoad` keeps WebSocket clients of the runtime test app in one group on every web
dyno: chat lines broadcast to the group, and background jobs whose consumer announces
``done <id>`` to the group, so every socket must see every line and every ``done`` exactly
once. Jobs are also counted by id on a second Redis (the app records there), which the
faults never touch. Shared by ``tests/e2e/test_redis_faults.py`` and the bench family ``faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.support.redis import RedisServer
from tests.support.ws import WSConnection, observed_close_code, ws_connect

OUTAGE_BEGAN = "Redis refused or dropped a connection"
STALL_BEGAN = "Redis has not answered for"
DATA_RESTORED = "came back without its data"


async def stall(redis: RedisServer, seconds: float) -> None:
    """The server stops answering (not one byte) for *seconds*, then carries on."""
    assert redis.pid is not None
    os.kill(redis.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        os.kill(redis.pid, signal.SIGCONT)


async def restart_empty(redis: RedisServer, down: float = 2.0) -> None:
    """Killed, then a fresh server with no data on the same port *down* seconds later."""
    redis.kill()
    await asyncio.sleep(down)
    await asyncio.to_thread(redis.start)


def kill_clients(redis: RedisServer) -> int:
    """Close every client connection but the caller's (``CLIENT KILL TYPE normal``)."""
    admin = redis.client()
    killed = int(admin.client_kill_filter(_type="normal", skipme=True))
    pubsub = int(admin.client_kill_filter(_type="pubsub", skipme=True))
    return killed + pubsub


@contextlib.contextmanager
def full(redis: RedisServer) -> Any:
    """Redis at its ``maxmemory`` with ``noeviction`` (Heroku's default): every write is
    refused with ``OOM command not allowed`` until the block ends."""
    admin = redis.client()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", max(1, used // 2))
    try:
        yield
    finally:
        admin.config_set("maxmemory", 0)


def _text(frame: str | bytes) -> str:
    """A relayed text: the runtime app's ``{"text": ...}`` frame, or the bench app's plain one."""
    raw = frame.decode() if isinstance(frame, bytes) else frame
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    return str(data.get("text", raw)) if isinstance(data, dict) else raw


@dataclass
class Socket:
    """One client of the room, with everything it received."""

    dyno: str
    conn: WSConnection
    since: int  # what the room had sent when it joined (RoomLoad.expected)
    texts: list[str] = field(default_factory=list)
    reader: asyncio.Future[None] | None = None

    def count(self, text: str) -> int:
        return self.texts.count(text)


@dataclass
class RoomLoad:
    """Sockets in group *room* on every web dyno (``ws://127.0.0.1:PORT`` addresses)."""

    webs: dict[str, str]
    room: str = "faults"
    per_web: int = 3
    greeting: bool = True  # the runtime app says "joined" first; the bench app does not
    channels: tuple[str, ...] = ("jobs", "sync-jobs")  # where steady() sends jobs, in turn
    sockets: list[Socket] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # what every socket in the room gets
    failed_sends: int = 0  # frames a client could not send (the server closed its socket)

    async def join(self, label: str = "old", per_web: int | None = None) -> list[Socket]:
        """Open sockets in the room (each reads its own ``joined`` greeting first)."""
        joined = []
        for dyno, address in self.webs.items():
            for _ in range(per_web or self.per_web):
                conn = await ws_connect(f"{address}/ws/group/{self.room}/", timeout=15)
                if self.greeting:
                    hello = json.loads(await asyncio.wait_for(conn.recv(), 15))
                    assert "joined" in hello, hello
                socket = Socket(f"{label}:{dyno}", conn, len(self.expected))
                socket.reader = asyncio.ensure_future(self._read(socket))
                joined.append(socket)
        self.sockets += joined
        return joined

    @staticmethod
    async def _read(socket: Socket) -> None:
        with contextlib.suppress(Exception):
            while True:
                socket.texts.append(_text(await socket.conn.recv()))

    async def say(self, text: str, by: Socket | None = None, expect: bool = True) -> None:
        """A chat line from *by* (default: the sockets take turns) to the whole room
        (*expect*: every socket must get it; a probe sent while Redis forgot the room may
        reach no one)."""
        sender = by or self.sockets[len(self.lines) % len(self.sockets)]
        self.lines.append(text)
        if expect:  # refused by a closed socket, it is missing everywhere: it counts
            self.expected.append(text)
        await self._send(sender, {"broadcast": text})

    async def job(self, job_id: str, by: Socket | None = None, channel: str = "jobs") -> None:
        """A background job on *channel* (``jobs``: an async consumer, ``sync-jobs``: a sync
        one); its consumer announces ``done <id>`` to the room."""
        sender = by or self.sockets[len(self.jobs) % len(self.sockets)]
        self.jobs.append(job_id)
        self.expected.append(f"done {job_id}")
        await self._send(sender, {"job": job_id, "channel": channel, "reply": True})

    async def _send(self, sender: Socket, frame: dict[str, Any]) -> bool:
        """Send *frame*; False (counted) if the server has closed that socket."""
        try:
            await sender.conn.send(json.dumps(frame))
        except Exception:
            self.failed_sends += 1
            return False
        return True

    async def steady(self, seconds: float, every: float, label: str) -> None:
        """Jobs and chat lines, alternating, every *every* seconds for *seconds*."""
        deadline = time.monotonic() + seconds
        number = 0
        while time.monotonic() < deadline:
            channel = self.channels[number % len(self.channels)]
            await self.job(f"{label}-job-{number}", channel=channel)
            await self.say(f"{label}-line-{number}")
            number += 1
            await asyncio.sleep(every)

    async def heard_again(self, by: Socket, among: list[Socket], timeout: float) -> float | None:
        """After a fault: probe lines from *by*, every 0.25 s, until all of *among* hear one;
        the seconds that took (None: not within *timeout*). Probes are not expected."""
        started = time.monotonic()
        attempt = 0
        while time.monotonic() - started < timeout:
            attempt += 1
            text = f"probe-{attempt}"
            await self.say(text, by=by, expect=False)
            await asyncio.sleep(0.25)
            if all(socket.count(text) for socket in among):
                return time.monotonic() - started
        return None

    def missing(self, sockets: list[Socket] | None = None) -> dict[str, list[str]]:
        """What some socket of *sockets* (default: all) has not received yet: text -> the
        sockets (dyno and index) without it."""
        found: dict[str, list[str]] = {}
        for index, socket in enumerate(sockets or self.sockets):
            for text in self.expected[socket.since :]:
                if socket.count(text) == 0:
                    found.setdefault(text, []).append(f"{socket.dyno}#{index}")
        return found

    def duplicated(self) -> dict[str, int]:
        """Texts a socket received more than once: text -> the highest count."""
        worst: dict[str, int] = {}
        for socket in self.sockets:
            for text, times in Counter(socket.texts).items():
                if times > 1:
                    worst[text] = max(times, worst.get(text, 0))
        return worst

    async def delivered(self, timeout: float, sockets: list[Socket] | None = None) -> bool:
        """Wait until every socket of *sockets* has every line and every ``done``."""
        deadline = time.monotonic() + timeout
        while self.missing(sockets):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    def closed(self) -> dict[str, int | None]:
        """Sockets the server closed: name -> close code."""
        codes = {f"{s.dyno}#{i}": observed_close_code(s.conn) for i, s in enumerate(self.sockets)}
        return {name: code for name, code in codes.items() if code is not None}

    async def close(self) -> None:
        for socket in self.sockets:
            if socket.reader is not None:
                socket.reader.cancel()
        await asyncio.gather(*(s.conn.close() for s in self.sockets), return_exceptions=True)
