"""WebSocket round-trip load: ``--connections`` sockets, each sends a text frame and awaits
the answer in a loop (closed loop) for the duration the go file gives.

``--mode echo`` expects the frame back as sent (``/ws/echo/``); ``--mode group`` sends
``{"broadcast": TEXT}`` to ``/ws/group/<unique>/`` and awaits TEXT relayed through the
channel layer (a group of one: every round trip is a ``group_send``).
Client: ``websockets`` asyncio client, compression off, no client pings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from websockets.asyncio.client import connect

from bench.clients.sync import raise_fd_limit, run_client, sleep_until, wait_for_file, write_json


async def _run(args: argparse.Namespace) -> dict[str, object]:
    raise_fd_limit()
    latencies: list[int] = []
    errors = 0
    conns = []
    for index in range(args.connections):
        url = args.url
        if args.mode == "group":
            url = f"{args.url.rstrip('/')}/g{os.getpid()}x{index}/"
        conns.append(
            await connect(
                url,
                origin=args.origin,
                compression=None,
                ping_interval=None,
                proxy=None,
                open_timeout=30,
                max_queue=None,
            )
        )
    write_json(args.ready_file, {"connections": len(conns)})
    go = await wait_for_file(args.go_file, time.monotonic() + args.max_seconds)
    if go is None:
        return {"error": "no go file"}
    start, duration = float(go["start"]), float(go["duration"])
    record_from = start + float(go.get("warmup", 0.0))  # round trips before: warm-up
    stop_at = record_from + duration
    payload = "x" * 32
    frame = json.dumps({"broadcast": payload}) if args.mode == "group" else payload
    await sleep_until(start)

    async def loop(conn) -> None:  # type: ignore[no-untyped-def]
        nonlocal errors
        while time.monotonic() < stop_at:
            sent = time.perf_counter()
            try:
                await conn.send(frame)
                answer = await conn.recv()
            except Exception:
                errors += 1
                return
            if time.monotonic() >= record_from:
                latencies.append(int((time.perf_counter() - sent) * 1e6))
            if answer != payload:
                errors += 1

    async def measure_cpu() -> tuple[float, float]:
        await sleep_until(record_from)
        return time.monotonic(), time.process_time()

    meter = asyncio.ensure_future(measure_cpu())
    await asyncio.wait_for(asyncio.gather(*(loop(c) for c in conns)), stop_at - start + 30)
    began, cpu0 = await meter
    wall = time.monotonic() - began
    cpu = time.process_time() - cpu0
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    return {
        "messages": len(latencies),
        "errors": errors,
        "wall": wall,
        "cpu": cpu,
        "latencies_us": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--mode", choices=("echo", "group"), default="echo")
    parser.add_argument("--connections", type=int, default=16)
    run_client(parser, _run, until="go", max_seconds=60.0)


if __name__ == "__main__":
    main()
