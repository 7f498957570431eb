"""Which ``X-Forwarded-For`` entry the web launcher believes.

Daphne's ``--proxy-headers`` takes the *first* entry of ``X-Forwarded-For`` as the client
address. Any client can send that header, and Heroku's router (like nginx, AWS load
balancers and CDNs) *appends* the address it saw, so the first entry is whatever the client
wrote: ``REMOTE_ADDR``, ``scope["client"]``, rate limits keyed on it and the access log could
all be spoofed with one request header. The entry a trusted proxy wrote is the N-th from the
right, N being the number of proxies in front of the app (``CHANNELS_PROXY_HOPS``; 1 = the
platform router; 2 = a CDN in front of it). Several header lines count as one list, in order,
as RFC 9110 section 5.3 combines them (and as Daphne itself joins them on a WebSocket upgrade).
``CHANNELS_PROXY_HOPS=0`` (nothing in front) ignores the header; the TCP peer stands.

The dual-stack listener sees IPv4 peers as ``::ffff:a.b.c.d``; they are reported as
``a.b.c.d``, like an IPv4-only server would.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any


def trusted_entry(values: Iterable[str], hops: int) -> str | None:
    """The address the outermost trusted proxy saw, from the header lines ``values``.

    ``None`` when there is nothing to believe (no entries, ``hops`` < 1, or an entry there
    that is not an IP address, like ``unknown``). A chain shorter than ``hops`` (a request
    that skipped the CDN) gives its leftmost entry: every entry in it was written by a trusted
    proxy. ``[v6]:port``, ``v4:port`` and IPv4-mapped forms are reduced to the address.
    """
    entries = [entry.strip() for value in values for entry in value.split(",")]
    entries = [entry for entry in entries if entry]
    if hops < 1 or not entries:
        return None
    return _address(entries[-hops] if hops <= len(entries) else entries[0])


@functools.lru_cache(maxsize=4096)  # ipaddress parsing is slow; clients repeat
def _address(entry: str) -> str | None:
    host = entry.strip('"')
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def install(hops: int) -> None:
    """Make Daphne (in this process) take the client address from the trusted entry."""
    import daphne.http_protocol
    import daphne.utils
    import daphne.ws_protocol

    stock = daphne.utils.parse_x_forwarded_for

    def parse_trusted(
        headers: Any, address_header_name: str | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        if address_header_name:
            headers = _narrowed(headers, address_header_name, hops)
        address, scheme = stock(headers, address_header_name, *args, **kwargs)
        return _unmapped(address), scheme

    daphne.http_protocol.parse_x_forwarded_for = parse_trusted
    daphne.ws_protocol.parse_x_forwarded_for = parse_trusted


def _narrowed(headers: Any, address_header_name: str, hops: int) -> dict[bytes, list[bytes]]:
    """``headers`` (Twisted ``Headers`` or a dict) with the address header reduced to the
    trusted entry, or removed when there is none (the peer address then stands)."""
    plain = _as_lists(headers)
    name = address_header_name.lower().encode("ascii")
    lines = [value.decode("latin-1") for value in plain.pop(name, [])]
    entry = trusted_entry(lines, hops)
    if entry is not None:
        plain[name] = [entry.encode("latin-1")]
    return plain


def _unmapped(address: Any) -> Any:
    """``[host, port]`` with an IPv4-mapped IPv6 host written as plain IPv4."""
    host = _address(str(address[0])) if address else None
    return [host, address[1]] if host else address


def _as_lists(headers: Any) -> dict[bytes, list[bytes]]:
    items: Iterable[tuple[bytes, bytes | Sequence[bytes]]]
    items = headers.getAllRawHeaders() if hasattr(headers, "getAllRawHeaders") else headers.items()
    plain: dict[bytes, list[bytes]] = {}
    for name, value in items:
        values = [value] if isinstance(value, bytes) else list(value)
        plain.setdefault(name.lower(), []).extend(values)
    return plain


# -- the same rule as ASGI middleware, for engines other than Daphne ------------------------


class ClientAddressMiddleware:
    """Sets ``scope["client"]`` (hence ``REMOTE_ADDR`` and the access log, which reads the
    same scope) and ``scope["scheme"]`` the way :func:`install` makes Daphne do: the trusted
    ``X-Forwarded-For`` entry with the ``X-Forwarded-Port`` port, the scheme from
    ``X-Forwarded-Proto`` only when that entry is believed, and IPv4-mapped peers unmapped."""

    def __init__(self, application: Any, hops: int) -> None:
        self.application = application
        self.hops = hops

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") in ("http", "websocket"):
            rewrite_scope(scope, self.hops)
        await self.application(scope, receive, send)


def rewrite_scope(scope: Any, hops: int) -> None:
    """Apply the client-address rule to an ASGI connection *scope*, in place."""
    if hops >= 1:
        lines: list[str] = []
        port = proto = b""
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                lines.append(value.decode("latin-1"))
            elif name == b"x-forwarded-port":
                port = value
            elif name == b"x-forwarded-proto":
                proto = value
        entry = trusted_entry(lines, hops) if lines else None
        if entry is not None:
            scope["client"] = (entry, int(port) if port.strip().isdigit() else 0)
            if proto:
                scope["scheme"] = _scheme(scope["type"], proto.decode("latin-1"))
            return
    client = scope.get("client")
    if client:
        host = _address(str(client[0]))
        if host is not None and host != client[0]:
            scope["client"] = (host, client[1])


def _scheme(kind: str, proto: str) -> str:
    secure = proto.rsplit(",", maxsplit=1)[-1].strip().lower() in ("https", "wss")
    if kind == "websocket":
        return "wss" if secure else "ws"
    return "https" if secure else "http"
