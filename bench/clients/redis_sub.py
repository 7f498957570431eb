"""Fan-out floor: a raw Redis SUBSCRIBE-er (redis-py asyncio, no Channels, no WebSockets).

Every message on ``--channel`` is a message id; on receipt it sends the UDP datagram
``"<client> <id> <t> <t>"`` (monotonic time) to ``127.0.0.1:--udp-port``, like
``ws_hold --mode fanout`` does when an id has reached all of its sockets.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path

from redis import asyncio as aioredis

from bench.clients.sync import run_client, write_json


async def _run(args: argparse.Namespace) -> dict[str, object]:
    client = aioredis.Redis.from_url(args.url, socket_timeout=None)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(args.channel)
    write_json(args.ready_file, {"subscribed": args.channel})
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stop_file = Path(args.stop_file)
    deadline = time.monotonic() + args.max_seconds
    received = 0
    while time.monotonic() < deadline and not stop_file.exists():
        message = await pubsub.get_message(timeout=0.05)
        if message is None or message.get("type") != "message":
            continue
        now = time.monotonic()
        received += 1
        key = message["data"].decode()
        udp.sendto(f"{args.client} {key} {now!r} {now!r}".encode(), ("127.0.0.1", args.udp_port))
    await pubsub.aclose()
    await client.aclose()
    udp.close()
    return {"received": received}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--client", type=int, default=0)
    parser.add_argument("--udp-port", type=int, required=True)
    run_client(parser, _run, until="stop", max_seconds=300.0)


if __name__ == "__main__":
    main()
