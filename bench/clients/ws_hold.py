"""Hold many WebSockets open (memory, fan-out and shutdown measurements).

Opens ``--count`` sockets (at most ``--concurrency`` handshakes at a time), writes the
ready file, then per ``--mode``:

* ``hold``: keep them open until the stop file appears, then close them (code 1000);
* ``fanout``: every text frame is a message id; when an id has reached *every* socket of
  this process, send one UDP datagram ``"<client> <id> <t_first> <t_last>"`` (monotonic
  times) to ``127.0.0.1:--udp-port``;
* ``shutdown``: wait for the server to close the sockets; record each close code (1006
  when the TCP connection dropped without a close frame) and when it happened.

Results (JSON) go to ``--out`` when the stop file appears or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import socket
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.clients.sync import raise_fd_limit, run_client, write_json

ABNORMAL = 1006


def _close_code(conn: Any, exc: ConnectionClosed | None) -> int:
    code = getattr(conn, "close_code", None)
    if code is None and exc is not None:
        code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL
    return int(code) if code is not None else ABNORMAL


async def _open(args: argparse.Namespace) -> tuple[list[Any], int, list[str]]:
    semaphore = asyncio.Semaphore(args.concurrency)
    failed = 0
    reasons: list[str] = []

    async def one() -> Any:
        nonlocal failed
        async with semaphore:
            try:
                return await connect(
                    args.url,
                    origin=args.origin,
                    compression=None,
                    ping_interval=None,
                    proxy=None,
                    open_timeout=60,
                    close_timeout=5,
                    max_queue=None,
                )
            except Exception as exc:
                failed += 1
                if len(reasons) < 5:
                    reasons.append(f"{type(exc).__name__}: {exc}")
                return None

    opened = await asyncio.gather(*(one() for _ in range(args.count)))
    return [c for c in opened if c is not None], failed, reasons


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    raise_fd_limit()
    began = time.monotonic()
    conns, failed, reasons = await _open(args)
    write_json(
        args.ready_file,
        {
            "opened": len(conns),
            "failed": failed,
            "reasons": reasons,
            "seconds": time.monotonic() - began,
        },
    )
    stop_file = Path(args.stop_file)
    deadline = time.monotonic() + args.max_seconds
    result: dict[str, Any] = {"opened": len(conns), "failed": failed}

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    counts: collections.Counter[str] = collections.Counter()
    first: dict[str, float] = {}
    codes: collections.Counter[int] = collections.Counter()
    closed_at: list[float] = []
    wanted = len(conns)

    async def fanout_reader(conn: Any) -> None:
        try:
            async for message in conn:
                now = time.monotonic()
                key = message if isinstance(message, str) else message.decode()
                counts[key] += 1
                if counts[key] == 1:
                    first[key] = now
                if counts[key] == wanted:
                    datagram = f"{args.client} {key} {first[key]!r} {now!r}"
                    udp.sendto(datagram.encode(), ("127.0.0.1", args.udp_port))
        except ConnectionClosed:
            pass

    async def shutdown_reader(conn: Any) -> None:
        exc: ConnectionClosed | None = None
        try:
            async for _ in conn:
                pass
        except ConnectionClosed as error:
            exc = error
        closed_at.append(time.monotonic())
        codes[_close_code(conn, exc)] += 1

    readers = []
    if args.mode == "fanout":
        readers = [asyncio.ensure_future(fanout_reader(c)) for c in conns]
    elif args.mode == "shutdown":
        readers = [asyncio.ensure_future(shutdown_reader(c)) for c in conns]

    while time.monotonic() < deadline and not stop_file.exists():
        if args.mode == "shutdown" and len(closed_at) == len(conns):
            break
        await asyncio.sleep(0.02)

    if args.mode == "shutdown":
        result["codes"] = {str(k): v for k, v in sorted(codes.items())}
        result["still_open"] = len(conns) - len(closed_at)
        result["closed_at"] = sorted(closed_at)
    if args.mode == "fanout":
        result["incomplete"] = sum(1 for v in counts.values() if v < wanted)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(asyncio.wait_for(c.close(), 5) for c in conns), return_exceptions=True)
    udp.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--mode", choices=("hold", "fanout", "shutdown"), default="hold")
    parser.add_argument("--client", type=int, default=0)
    parser.add_argument("--udp-port", type=int, default=0)
    run_client(parser, _run, until="stop", max_seconds=120.0)


if __name__ == "__main__":
    main()
