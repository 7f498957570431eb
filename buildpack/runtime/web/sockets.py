"""The web listening socket: bound before anything slow happens.

Heroku's boot check only needs ``$PORT`` bound; requests that arrive while the app is
still importing wait in the listen backlog instead of being refused. Default bind is
``[::]`` with ``IPV6_V6ONLY`` off, one socket for IPv4 and IPv6 (Heroku's newer router
connects over IPv6), falling back to ``0.0.0.0`` where the host has no IPv6.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator

BACKLOG = 2048


def _bind(family: socket.AddressFamily, host: str, port: int, dual_stack: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen(bind: str | None, port: int) -> tuple[socket.socket, str]:
    """Bind and listen; returns the socket and its :func:`describe` text."""
    if bind:
        host = bind.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = _bind(family, host, port, dual_stack=host == "::")
        return sock, describe(sock)
    try:
        sock = _bind(socket.AF_INET6, "::", port, dual_stack=True)
    except OSError as exc:
        if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT):
            raise
        sock = _bind(socket.AF_INET, "0.0.0.0", port, dual_stack=False)
    return sock, describe(sock)


def describe(sock: socket.socket) -> str:
    """``[::]:5000 (IPv4+IPv6)``, ``0.0.0.0:5000 (IPv4 only)``, ``[::1]:5000``, ..."""
    host, port = sock.getsockname()[:2]
    if sock.family == socket.AF_INET6:
        dual = not sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        return f"[{host}]:{port}" + (" (IPv4+IPv6)" if dual and host == "::" else "")
    return f"{host}:{port}" + (" (IPv4 only)" if host == "0.0.0.0" else "")


@contextlib.contextmanager
def _adopted(fileno: int) -> Iterator[socket.socket]:
    """A socket object over an inherited descriptor, left open afterwards."""
    sock = socket.socket(fileno=fileno)
    try:
        yield sock
    finally:
        sock.detach()


def describe_fd(fileno: int) -> str:
    """:func:`describe` for an inherited listening socket."""
    with _adopted(fileno) as sock:
        return describe(sock)


def family_fd(fileno: int) -> int:
    """The address family of an inherited listening socket."""
    with _adopted(fileno) as sock:
        return int(sock.family)
