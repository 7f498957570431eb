"""The client address behind the router: the entry the proxy appended, never a client-written one.

Stock Daphne with ``--proxy-headers`` believes the first ``X-Forwarded-For`` entry, which any
client writes itself; Heroku's router appends the real address at the end.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from twisted.web.http_headers import Headers

from buildpack.runtime.web.forwarded import (
    ClientAddressMiddleware,
    _narrowed,
    _unmapped,
    trusted_entry,
)
from tests.support.deployment import Deployment
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.ws import http_get, ws_connect

SPOOFED = "6.6.6.6"
CLIENT = "203.0.113.9"
CHAIN = f"{SPOOFED}, {CLIENT}"


@pytest.mark.parametrize(
    ("lines", "hops", "expected"),
    [
        ([CLIENT], 1, CLIENT),
        ([CHAIN], 1, CLIENT),
        ([f" {SPOOFED} ,{CLIENT} "], 1, CLIENT),
        ([CHAIN], 2, SPOOFED),
        ([CLIENT], 2, CLIENT),  # a request that skipped the CDN: all entries are trusted
        ([SPOOFED, CLIENT], 1, CLIENT),  # several header lines are one list, in order
        (["2001:db8::1"], 1, "2001:db8::1"),
        (["[2001:db8::1]:443"], 1, "2001:db8::1"),
        (["198.51.100.7:5678"], 1, "198.51.100.7"),
        (["::ffff:198.51.100.7"], 1, "198.51.100.7"),
        (['"[2001:db8::2]"'], 1, "2001:db8::2"),
        ([f"{CLIENT}, unknown"], 1, None),  # not an address: the TCP peer stands
        ([CHAIN], 0, None),
        ([""], 1, None),
        ([" , ,"], 1, None),
        ([], 1, None),
    ],
)
def test_trusted_entry_counts_hops_from_the_right(
    lines: list[str], hops: int, expected: str | None
) -> None:
    assert trusted_entry(lines, hops) == expected


def test_narrowed_headers_keep_everything_but_the_untrusted_entries() -> None:
    twisted = Headers({b"X-Forwarded-For": [CHAIN.encode()], b"X-Forwarded-Proto": [b"https"]})
    assert _narrowed(twisted, "X-Forwarded-For", 1) == {
        b"x-forwarded-for": [CLIENT.encode()],
        b"x-forwarded-proto": [b"https"],
    }
    as_dict = {b"x-forwarded-for": CHAIN.encode(), b"host": b"example.com"}
    assert _narrowed(as_dict, "X-Forwarded-For", 2)[b"x-forwarded-for"] == [SPOOFED.encode()]
    assert b"x-forwarded-for" not in _narrowed({b"x-forwarded-for": b" "}, "X-Forwarded-For", 1)


def test_ipv4_peers_of_the_dual_stack_socket_read_as_ipv4() -> None:
    assert _unmapped(["::ffff:10.1.2.3", 5000]) == ["10.1.2.3", 5000]
    assert _unmapped(["2001:db8::1", 443]) == ["2001:db8::1", 443]
    assert _unmapped(["not-an-ip", 0]) == ["not-an-ip", 0]
    assert _unmapped(None) is None


@pytest.mark.parametrize(
    ("kind", "headers", "hops", "client", "scheme"),
    [
        ("http", {b"x-forwarded-for": CHAIN}, 1, (CLIENT, 0), "http"),
        ("http", {b"x-forwarded-for": CHAIN, b"x-forwarded-proto": "https"}, 1, (CLIENT, 0),
         "https"),
        ("websocket", {b"x-forwarded-for": CHAIN, b"x-forwarded-proto": "https"}, 2,
         (SPOOFED, 0), "wss"),
        ("http", {b"x-forwarded-for": CLIENT, b"x-forwarded-port": "443"}, 1, (CLIENT, 443),
         "http"),
        # nothing believed: the (unmapped) peer stands, and so does the scheme
        ("http", {b"x-forwarded-for": CHAIN, b"x-forwarded-proto": "https"}, 0,
         ("10.1.2.3", 5000), "http"),
        ("websocket", {b"x-forwarded-for": "unknown", b"x-forwarded-proto": "wss"}, 1,
         ("10.1.2.3", 5000), "ws"),
        ("http", {}, 1, ("10.1.2.3", 5000), "http"),
    ],
)  # fmt: skip
def test_the_middleware_applies_the_same_rule_to_the_scope(
    kind: str, headers: dict[bytes, str], hops: int, client: tuple[str, int], scheme: str
) -> None:
    scope = {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "client": ("::ffff:10.1.2.3", 5000),
        "headers": [(name, value.encode()) for name, value in headers.items()],
    }
    seen = []

    async def app(scope: dict, receive: object, send: object) -> None:
        seen.append(scope)

    asyncio.run(ClientAddressMiddleware(app, hops)(scope, None, None))
    assert (seen[0]["client"], seen[0]["scheme"]) == (client, scheme)


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
