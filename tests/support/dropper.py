"""A TCP proxy in front of Redis that loses one reply: the command runs, its answer never comes.

:class:`ReplyDropper` forwards bytes both ways. Armed with a command name (``arm(b"EVAL")``),
it lets the next request holding that name through to Redis and then closes the client's
connection instead of forwarding Redis's reply, once: the write was executed, the client
sees a dropped connection and cannot know. That is the window a retried write must not
turn into a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class ReplyDropper:
    """``async with ReplyDropper(redis_port) as proxy``: clients use ``proxy.url``."""

    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    dropped: int = 0
    _armed: bytes | None = None
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def arm(self, command: bytes) -> None:
        """Drop the reply to the next request that contains *command* (e.g. ``b"EVAL"``)."""
        self._armed = command

    async def __aenter__(self) -> ReplyDropper:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(self.host, self.upstream_port)
        state = {"drop": False}
        pumps = [
            asyncio.ensure_future(self._requests(client_r, server_w, state)),
            asyncio.ensure_future(self._replies(server_r, client_w, state)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)
            for writer in (client_w, server_w):
                writer.transport.abort()

    async def _requests(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, bool]
    ) -> None:
        while chunk := await reader.read(65536):
            if self._armed is not None and self._armed in chunk:
                self._armed = None
                state["drop"] = True
            writer.write(chunk)
            await writer.drain()

    async def _replies(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict[str, bool]
    ) -> None:
        while chunk := await reader.read(65536):
            if state["drop"]:
                self.dropped += 1
                return  # the reply is lost with the connection
            writer.write(chunk)
            await writer.drain()
