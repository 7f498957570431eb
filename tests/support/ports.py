"""Loopback port helpers: pick a free port, wait until something listens on one.

``free_port`` has the usual tiny race (the port is released before the caller binds it);
callers that can let the server bind port 0 and report the port should prefer that, and
callers that can't (redis-server) retry with a fresh port if the bind fails.
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

from tests.support import procs

__all__ = ["free_port", "port_is_open", "wait_for_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if a TCP connect to ``host:port`` succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    proc: subprocess.Popen[Any] | procs.ManagedProcess | None = None,
) -> None:
    """Poll ``host:port`` until a TCP connect succeeds.

    ``proc`` is the process expected to open the port (a ``subprocess.Popen`` or a
    :class:`~tests.support.procs.ManagedProcess`). If it exits first, raise ``RuntimeError``
    straight away instead of waiting for the timeout. On timeout raise ``TimeoutError``.
    Both messages include the tail of the process's captured output when it was started
    through :mod:`tests.support.procs` (a bare ``Popen`` is looked up by pid).
    """
    # Prefer the ManagedProcess: its poll() does not reap (see procs.ManagedProcess.poll).
    watched = (procs.find(proc.pid) or proc) if isinstance(proc, subprocess.Popen) else proc
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if port_is_open(port, host, timeout=min(1.0, max(0.05, deadline - time.monotonic()))):
            return
        if watched is not None and (code := watched.poll()) is not None:
            raise RuntimeError(
                f"process exited with code {code} before {host}:{port} opened{_tail_of(proc)}"
            )
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"nothing listening on {host}:{port} after {timeout}s{_tail_of(proc)}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _tail_of(proc: subprocess.Popen[Any] | procs.ManagedProcess | None) -> str:
    if proc is None:
        return ""
    managed = proc if isinstance(proc, procs.ManagedProcess) else procs.find(proc.pid)
    if managed is None:
        return f"\n(output of pid {proc.pid} was not captured by tests.support.procs)"
    return f"\n--- last output of {managed.name} (pid {managed.pid}) ---\n{managed.tail()}"
