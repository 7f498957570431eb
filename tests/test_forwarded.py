"""The client address behind the router: the entry the proxy appended, never a client-written one.

Stock Daphne with ``--proxy-headers`` believes the first ``X-Forwarded-For`` entry, which any
client writes itself; Heroku's router appends the real address at the end.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

import pytest
from twisted.web.http_headers import Headers

from buildpack.runtime.launchers.forwarded import _narrowed, _unmapped, trusted_entry
from tests.conftest import LOCAL_HOSTS
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


# -- the web launcher, for real -------------------------------------------------------------


@pytest.fixture
def runtime_build(build_app: Callable[..., Build]) -> Build:
    build = build_app("runtime_app", **LOCAL_HOSTS)
    assert build.ok, build.compile.output if build.compile else build.detect.output
    return build


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


async def _ws_client(url: str, forwarded_for: str) -> str:
    conn = await ws_connect(url, headers={"X-Forwarded-For": forwarded_for})
    try:
        return str(json.loads(await asyncio.wait_for(conn.recv(), 10))["client"])
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
    runtime_build: Build,
    hops: str | None,
    expected: str,
) -> None:
    env = {"CHANNELS_PROXY_HOPS": hops} if hops is not None else {}
    web = Deployment(platform, procs, runtime_build, {}).web("web.1", env=env)
    forwarded = {"X-Forwarded-For": CHAIN, "X-Forwarded-Proto": "https"}

    status, body = http_get(f"{web.http}/whoami/", headers=forwarded)
    # https from the router's X-Forwarded-Proto, unless CHANNELS_PROXY_HOPS=0 says there is
    # no proxy (then the settings layer does not set SECURE_PROXY_SSL_HEADER either)
    scheme = "http" if hops == "0" else "https"
    assert (status, body) == (200, f"{expected} {scheme}")
    assert asyncio.run(_ws_client(f"{web.ws}/ws/group/room/", CHAIN)) == expected
    if hops is None:
        # A client that splits its forgery over two header lines gets nowhere either.
        lines = [f"X-Forwarded-For: {SPOOFED}", f"X-Forwarded-For: {CLIENT}"]
        assert f"\r\n{CLIENT} http\r\n" in _raw_get(web.port or 0, "/whoami/", lines)

    assert web.process.stop(30) == 0
    access_log = [line for line in web.process.output().splitlines() if "/whoami/" in line]
    assert access_log and all(expected in line for line in access_log), access_log
    if expected != SPOOFED:
        assert SPOOFED not in web.process.output()
