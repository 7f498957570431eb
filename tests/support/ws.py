"""WebSocket client helpers over ``websockets`` (>= 12), plus a stdlib HTTP GET.

Which client is used:

* websockets >= 13: the new asyncio client, ``websockets.asyncio.client.connect``; extra
  request headers go in ``additional_headers``; from 15 on it honours ``*_PROXY`` env vars
  by default, so we pass ``proxy=None`` (tests talk to loopback directly).
* websockets 12: the legacy client, ``websockets.legacy.client.connect``; headers go in
  ``extra_headers``.

Close codes as seen by the client (see :func:`observed_close_code`):

* new asyncio ``ClientConnection`` (13+): ``conn.protocol.close_code`` in every version;
  the ``conn.close_code`` shortcut property only exists from 14.1 (checked: absent in 13.0,
  13.1, 14.0; present in 14.1, 14.2, 15.0, 17.4);
* legacy ``WebSocketClientProtocol`` (12): ``conn.close_code``;
* both: ``ConnectionClosed.rcvd`` is the received Close frame (``rcvd.code``), or None when
  the TCP connection dropped without one -- the case the connection reports as 1006.
  (``ConnectionClosed.code`` is deprecated since 13.)
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed

__all__ = [
    "WSConnection",
    "close_code",
    "default_origin",
    "http_get",
    "observed_close_code",
    "open_many",
    "ws_connect",
    "ws_roundtrip",
    "ws_roundtrip_sync",
]

#: 1006 "abnormal closure": the connection dropped without a Close frame.
ABNORMAL_CLOSURE = 1006

try:  # websockets >= 13
    from websockets.asyncio.client import connect as _connect

    _HEADERS_KWARG = "additional_headers"
except ImportError:  # websockets 12
    from websockets.legacy.client import connect as _connect  # type: ignore[assignment]

    _HEADERS_KWARG = "extra_headers"

_CONNECT_PARAMS = frozenset(inspect.signature(_connect.__init__).parameters)


class WSConnection(Protocol):
    """What the helpers rely on; both the new and the legacy connection classes fit."""

    async def send(self, message: str | bytes) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


def default_origin(url: str) -> str:
    """``ws://h:p/x`` -> ``http://h:p``, ``wss://h/x`` -> ``https://h`` (what a browser on
    the page served by that host would send)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{scheme}://{host}{port}"


async def ws_connect(
    url: str,
    origin: str | None = None,
    timeout: float = 10.0,
    *,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> WSConnection:
    """Open a WebSocket within ``timeout`` seconds.

    ``origin`` defaults to :func:`default_origin` of the URL (pass ``""`` to send none);
    ``headers`` are extra request headers; other ``kwargs`` go to ``connect`` as-is. The
    caller closes the connection (``await conn.close()``).
    """
    if origin is None:
        origin = default_origin(url)
    options: dict[str, Any] = {"open_timeout": timeout}
    if origin:
        options["origin"] = origin
    if headers:
        options[_HEADERS_KWARG] = dict(headers)
    if "proxy" in _CONNECT_PARAMS:
        options["proxy"] = None
    options.update(kwargs)
    conn = await asyncio.wait_for(_connect(url, **options), timeout)
    return cast(WSConnection, conn)


def _text(message: str | bytes) -> str:
    return message if isinstance(message, str) else message.decode("utf-8", "replace")


async def ws_roundtrip(
    url: str,
    send: str,
    expect_contains: str,
    *,
    origin: str | None = None,
    timeout: float = 10.0,
) -> str:
    """Connect, send ``send``, and return the first message containing ``expect_contains``
    (others are skipped). ``AssertionError`` listing everything received if none arrives
    within ``timeout`` or the server closes first. The connection is closed afterwards."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    received: list[str] = []
    conn = await ws_connect(url, origin=origin, timeout=timeout)
    try:
        await conn.send(send)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no message containing {expect_contains!r} from {url} within {timeout}s; "
                    f"received {received!r}"
                )
            try:
                message = _text(await asyncio.wait_for(conn.recv(), remaining))
            except asyncio.TimeoutError:
                continue
            except ConnectionClosed as exc:
                raise AssertionError(
                    f"{url} closed the connection ({exc}) before sending a message "
                    f"containing {expect_contains!r}; received {received!r}"
                ) from exc
            if expect_contains in message:
                return message
            received.append(message)
    finally:
        await _close_quietly(conn)


def ws_roundtrip_sync(
    url: str,
    send: str,
    expect_contains: str,
    *,
    origin: str | None = None,
    timeout: float = 10.0,
) -> str:
    """:func:`ws_roundtrip` from sync code (runs its own event loop)."""
    return asyncio.run(ws_roundtrip(url, send, expect_contains, origin=origin, timeout=timeout))


async def _close_quietly(conn: WSConnection, timeout: float = 5.0) -> None:
    with contextlib.suppress(asyncio.TimeoutError, OSError, ConnectionClosed):
        await asyncio.wait_for(conn.close(), timeout)


async def open_many(
    url: str,
    count: int,
    *,
    origin: str | None = None,
    concurrency: int = 100,
    timeout: float = 30.0,
) -> list[WSConnection]:
    """Open ``count`` connections, at most ``concurrency`` handshakes at a time, all within
    ``timeout`` seconds. All or nothing: on any failure the ones already open are closed and
    the error is raised. The caller closes the returned connections."""
    semaphore = asyncio.Semaphore(concurrency)
    opened: list[WSConnection] = []

    async def one() -> WSConnection:
        async with semaphore:
            conn = await ws_connect(url, origin=origin, timeout=timeout)
            opened.append(conn)
            return conn

    try:
        return list(await asyncio.wait_for(asyncio.gather(*(one() for _ in range(count))), timeout))
    except BaseException:
        await asyncio.gather(*(_close_quietly(c) for c in opened), return_exceptions=True)
        raise


def observed_close_code(conn: WSConnection) -> int | None:
    """The close code the client's connection reports, None while it is still open.

    ``conn.close_code`` (legacy protocol; new connection from 14.1), else
    ``conn.protocol.close_code`` (new connection 13.0-14.0). 1006 if no Close frame came.
    """
    code = getattr(conn, "close_code", None)
    if code is None:
        protocol = getattr(conn, "protocol", None)
        code = getattr(protocol, "close_code", None)
    return cast("int | None", code)


async def close_code(conn: WSConnection, timeout: float) -> int | None:
    """Wait up to ``timeout`` for the SERVER to close ``conn``; return the close code the
    client observed: the code in the server's Close frame, or 1006 if the TCP connection
    dropped without one (e.g. the server process was SIGKILLed). Messages arriving
    meanwhile are read and discarded (reading is what lets the client see the close).
    Returns None if the connection is still open after ``timeout`` (it is left open)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        try:
            await asyncio.wait_for(conn.recv(), remaining)
        except asyncio.TimeoutError:
            return None
        except ConnectionClosed as exc:
            code = observed_close_code(conn)
            if code is None:  # defensive: derive it from the exception
                code = exc.rcvd.code if exc.rcvd is not None else ABNORMAL_CLOSURE
            return code


def http_get(
    url: str, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """GET ``url`` with ``urllib`` (no proxies from the environment) and return
    ``(status, body)`` -- also for 4xx/5xx responses. Connection errors propagate."""
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read().decode("utf-8", "replace")
        finally:
            exc.close()


def assert_fixture_sockets(meta: dict[str, Any], port: int) -> None:
    """Every WebSocket round trip a fixture's ``fixture.json`` lists, against *port*."""
    sockets = [meta[k] for k in ("websocket", "background") if k in meta]
    sockets += meta.get("extra_websockets", []) + meta.get("extra_background", [])
    for spec in sockets:
        url = f"ws://127.0.0.1:{port}{spec['path']}"
        reply = asyncio.run(ws_roundtrip(url, spec["send"], spec["expect_contains"], timeout=20))
        assert spec["expect_contains"] in reply
