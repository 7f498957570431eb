"""Say why a WebSocket was refused (Channels answers 403 and logs nothing, channels#2062)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from buildpack import log, messages

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin1")
    return ""


def explain(scope: Scope) -> str:
    """Why a handshake closed before accept was probably refused, with the fix."""
    from django.conf import settings
    from django.http.request import validate_host

    origin = _header(scope, b"origin")
    path = scope.get("path", "?")
    allowed = list(getattr(settings, "ALLOWED_HOSTS", []) or [])
    if getattr(settings, "DEBUG", False) and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    origin_host = urlsplit(origin).hostname or "" if origin else ""
    if origin and not validate_host(origin_host, allowed):
        return messages.WEBSOCKET_REFUSED_ORIGIN.format(
            path=path, origin=origin, allowed=allowed, host=origin_host
        )
    if not origin:
        return messages.WEBSOCKET_REFUSED_NO_ORIGIN.format(path=path)
    return messages.WEBSOCKET_REFUSED_BY_APP.format(path=path)


class RejectionLogger:
    """ASGI middleware: log one explanatory line when a WebSocket is closed before accept."""

    def __init__(self, application: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            await self.application(scope, receive, send)
            return
        accepted = False

        def watching_send(message: Message) -> Awaitable[None]:
            # A plain function returning the server's awaitable: no coroutine of its own,
            # so each message sent after the handshake costs one flag check.
            nonlocal accepted
            if not accepted:
                kind = message.get("type")
                if kind == "websocket.accept":
                    accepted = True
                elif kind == "websocket.close":
                    log.runtime("web", explain(scope))
            return send(message)

        await self.application(scope, receive, watching_send)
