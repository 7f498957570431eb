"""The client address behind the router, for real: the web launcher (both engines) believes
the ``X-Forwarded-For`` entry the router appended, never one a client wrote.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from tests.support.deployment import Deployment
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.ws import http_get, ws_connect

SPOOFED = "6.6.6.6"
CLIENT = "203.0.113.9"
CHAIN = f"{SPOOFED}, {CLIENT}"


# -- the web launcher, for real -------------------------------------------------------------


def _raw_get(port: int, path: str, header_lines: list[str]) -> str:
    """GET with repeated header lines (urllib folds them into one); the raw body (chunked)."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    request += "".join(f"{line}\r\n" for line in header_lines) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request.encode("latin-1"))
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("latin-1").split("\r\n\r\n", 1)[1]


async def _ws_client(url: str, headers: dict[str, str]) -> tuple[str, str | None]:
    conn = await ws_connect(url, headers=headers)
    try:
        hello = json.loads(await asyncio.wait_for(conn.recv(), 10))
        return str(hello["client"]), hello["scheme"]
    finally:
        await conn.close()


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("hops", "expected"),
    [(None, CLIENT), ("2", SPOOFED), ("0", "127.0.0.1")],
    ids=["default-one-hop", "cdn-two-hops", "no-proxy"],
)
def test_web_launcher_believes_the_entry_the_router_appended(
    platform: Platform,
    procs: ProcessGroup,
    engine_build: Build,
    web_engine: str,
    hops: str | None,
    expected: str,
) -> None:
    env = {"CHANNELS_PROXY_HOPS": hops} if hops is not None else {}
    web = Deployment(platform, procs, engine_build, {}).web("web.1", env=env)
    forwarded = {"X-Forwarded-For": CHAIN, "X-Forwarded-Proto": "https"}

    status, body = http_get(f"{web.http}/whoami/", headers=forwarded)
    # https from the router's X-Forwarded-Proto, unless CHANNELS_PROXY_HOPS=0 says there is
    # no proxy (then the settings layer does not set SECURE_PROXY_SSL_HEADER either)
    # (and the server's own scope says https, which Django uses when that setting is off)
    scheme = "http" if hops == "0" else "https"
    assert (status, body) == (200, f"{expected} {scheme} {scheme}")
    client, ws_scheme = asyncio.run(_ws_client(f"{web.ws}/ws/group/room/", forwarded))
    assert client == expected
    if web_engine != "daphne":  # Daphne puts no scheme in a WebSocket scope at all
        assert ws_scheme == ("ws" if hops == "0" else "wss")
    if hops is None:
        # A client that splits its forgery over two header lines gets nowhere either.
        lines = [f"X-Forwarded-For: {SPOOFED}", f"X-Forwarded-For: {CLIENT}"]
        assert f"\r\n{CLIENT} http http\r\n" in _raw_get(web.port or 0, "/whoami/", lines)

    assert web.process.stop(30) == 0
    access_log = [line for line in web.process.output().splitlines() if "/whoami/" in line]
    assert len(access_log) == (2 if hops is None else 1), access_log  # one per request
    assert all(expected in line for line in access_log), access_log
    if expected != SPOOFED:
        assert SPOOFED not in web.process.output()
