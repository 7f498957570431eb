"""A TLS-terminating TCP proxy, run as its own process by :class:`tests.support.tls.TLSProxy`.

Stdlib only, and meant to be run by file path with ``python -I`` (so this directory -- which
holds a ``redis.py`` -- never lands on ``sys.path``)::

    python -I tests/support/tls_proxy_main.py --listen-port 0 --backend-port 6379 \\
        --cert server.pem --key server.key

Every accepted TLS connection gets its own plain TCP connection to the backend and bytes are
piped both ways; when either side closes, both are closed. If the backend is down, the
client connection is closed right after the handshake. Prints one line
``TLS proxy listening on HOST:PORT -> BHOST:BPORT`` once it accepts connections (PORT is
the real one when ``--listen-port 0``). SIGTERM/SIGINT: close everything and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
from typing import Any

_CHUNK = 65536


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


class Proxy:
    def __init__(self, backend_host: str, backend_port: int) -> None:
        self.backend_host = backend_host
        self.backend_port = backend_port
        self.writers: set[asyncio.StreamWriter] = set()

    async def handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.writers.add(c_writer)
        try:
            try:
                b_reader, b_writer = await asyncio.wait_for(
                    asyncio.open_connection(self.backend_host, self.backend_port), 10
                )
            except (OSError, asyncio.TimeoutError) as exc:
                print(f"backend {self.backend_host}:{self.backend_port} down: {exc}", flush=True)
                return
            self.writers.add(b_writer)
            tasks = [
                asyncio.ensure_future(_pump(c_reader, b_writer)),
                asyncio.ensure_future(_pump(b_reader, c_writer)),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                _close(b_writer)
                self.writers.discard(b_writer)
        finally:
            _close(c_writer)
            self.writers.discard(c_writer)


def _quiet_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Failed handshakes (a client that rejects our self-signed cert) are expected here.
    exc = context.get("exception")
    print(f"proxy: {context.get('message')}: {exc!r}", flush=True)


async def main(args: argparse.Namespace) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    proxy = Proxy(args.backend_host, args.backend_port)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_handler)
    server = await asyncio.start_server(
        proxy.handle, args.listen_host, args.listen_port, ssl=ctx, ssl_handshake_timeout=10
    )
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"TLS proxy listening on {args.listen_host}:{port} -> "
        f"{args.backend_host}:{args.backend_port}",
        flush=True,
    )
    await stop.wait()
    server.close()
    for writer in list(proxy.writers):
        _close(writer)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 2)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--listen-port", type=int, default=0)
    parser.add_argument("--backend-host", default="127.0.0.1")
    parser.add_argument("--backend-port", type=int, required=True)
    parser.add_argument("--cert", required=True, help="PEM: server certificate (+ chain)")
    parser.add_argument("--key", required=True, help="PEM: private key")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
