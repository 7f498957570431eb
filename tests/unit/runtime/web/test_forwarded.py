"""Unit tests for ``buildpack.runtime.web.forwarded``: the client address behind the router
is the entry the proxy appended, never a client-written one.

Stock Daphne with ``--proxy-headers`` believes the first ``X-Forwarded-For`` entry, which any
client writes itself; Heroku's router appends the real address at the end. The web launcher
keeping this rule, for real: ``tests/e2e/test_forwarded.py``.
"""

from __future__ import annotations

import asyncio

import pytest
from twisted.web.http_headers import Headers

from buildpack.runtime.web.forwarded import (
    ClientAddressMiddleware,
    _narrowed,
    _unmapped,
    trusted_entry,
)

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
