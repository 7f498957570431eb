"""The Python HTTP load generator (used when ``wrk`` is not on PATH).

One process = one asyncio event loop with ``--connections`` keep-alive HTTP/1.1
connections on raw sockets (``asyncio.Protocol``, no HTTP library). Each connection sends
``GET <path>``, waits for the whole response (``Content-Length`` or chunked), records the
latency and sends the next request: a closed loop, like wrk. The bench runs several of
these processes and merges their results. Latencies are kept as integer microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench.clients.sync import raise_fd_limit, run_client, sleep_until, wait_for_file, write_json


class _Stats:
    def __init__(self) -> None:
        self.latencies_us: list[int] = []
        self.non_2xx = 0
        self.errors = 0
        self.reconnects = 0
        self.recording = False


class HttpConnection(asyncio.Protocol):
    """Keep-alive request loop on one connection."""

    def __init__(self, request: bytes, stats: _Stats, stop_at: list[float]) -> None:
        self.request = request
        self.stats = stats
        self.stop_at = stop_at
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.started = 0.0
        self.status = 0
        self.remaining: int | None = None  # body bytes still expected (Content-Length)
        self.chunked = False
        self.in_body = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.running = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def start(self) -> None:
        self.running = True
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.started = time.perf_counter()
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self._parse():
            self._done()
            if not self.running:
                return

    def _parse(self) -> bool:
        """Consume one complete response from the buffer if there is one."""
        if not self.in_body:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = self.buffer[:end].decode("latin-1")
            self.buffer = self.buffer[end + 4 :]
            lines = head.split("\r\n")
            self.status = int(lines[0].split(" ", 2)[1])
            self.remaining, self.chunked = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    self.remaining = int(value.strip())
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
            self.in_body = True
        if self.chunked:
            return self._parse_chunks()
        assert self.remaining is not None
        if len(self.buffer) < self.remaining:
            return False
        self.buffer = self.buffer[self.remaining :]
        self.in_body = False
        return True

    def _parse_chunks(self) -> bool:
        pos = 0
        while True:
            line_end = self.buffer.find(b"\r\n", pos)
            if line_end < 0:
                return False
            size = int(self.buffer[pos:line_end].split(b";")[0], 16)
            if size == 0:
                trailer_end = self.buffer.find(b"\r\n", line_end + 2)
                if trailer_end < 0:
                    return False
                self.buffer = self.buffer[trailer_end + 2 :]
                self.in_body = False
                return True
            chunk_end = line_end + 2 + size + 2
            if len(self.buffer) < chunk_end:
                return False
            pos = chunk_end

    def _done(self) -> None:
        now = time.perf_counter()
        stats = self.stats
        if stats.recording:
            stats.latencies_us.append(int((now - self.started) * 1e6))
            if not 200 <= self.status < 300:
                stats.non_2xx += 1
        if time.monotonic() >= self.stop_at[0]:
            self.running = False
            assert self.transport is not None
            self.transport.close()
            return
        self._send()


async def _run(args: argparse.Namespace) -> dict[str, object]:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        "User-Agent: bench-http-load\r\nAccept: */*\r\n\r\n"
    ).encode()
    stats = _Stats()
    stop_at = [float("inf")]

    async def connect() -> HttpConnection:
        _, protocol = await loop.create_connection(
            lambda: HttpConnection(request, stats, stop_at), args.host, args.port
        )
        return protocol

    conns = [await connect() for _ in range(args.connections)]
    write_json(args.ready_file, {"connections": len(conns)})
    go = await wait_for_file(args.go_file, time.monotonic() + args.max_seconds)
    if go is None:
        return {"error": "no go file"}
    start, warmup = float(go["start"]), float(go.get("warmup", 0.0))
    duration = float(go["duration"])
    stop_at[0] = start + warmup + duration
    await sleep_until(start)

    async def record_later() -> tuple[float, float]:
        await sleep_until(start + warmup)  # requests before this are the warm-up
        stats.recording = True
        return time.monotonic(), time.process_time()

    recorder = asyncio.ensure_future(record_later())

    async def keep(conn: HttpConnection) -> None:
        while True:
            conn.start()
            await conn.closed
            if time.monotonic() >= stop_at[0]:
                return
            stats.errors += 1  # the server closed a keep-alive connection under load
            stats.reconnects += 1
            conn = await connect()

    await asyncio.wait_for(
        asyncio.gather(*(keep(c) for c in conns)), warmup + duration + args.max_seconds
    )
    began, cpu0 = await recorder
    wall = time.monotonic() - began
    return {
        "requests": len(stats.latencies_us),
        "non_2xx": stats.non_2xx,
        "errors": stats.errors,
        "wall": wall,
        "cpu": time.process_time() - cpu0,
        "latencies_us": stats.latencies_us,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/health/")
    parser.add_argument("--connections", type=int, default=16)
    run_client(parser, _run, until="go", max_seconds=60.0)


if __name__ == "__main__":
    main()
