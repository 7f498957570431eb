"""Pre-fork supervisor for ``WEB_CONCURRENCY`` > 1.

The parent binds ``$PORT`` once and starts N fresh interpreters that each adopt the
listening socket by file descriptor (the kernel spreads connections among them). Fresh
interpreters, not ``fork()`` copies: Daphne's reactor and any threads or connections the
app opens at import time are not fork-safe. The parent stays small (it imports neither
Django nor the app: the first child reads the settings and reports whether they allow more
processes), restarts a child that dies, gives up on a crash loop, and on SIGTERM/SIGINT
passes the signal on and waits for the children's graceful shutdown.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from buildpack import log, messages

FAST_EXIT_SECONDS = 10.0
MAX_FAST_EXITS = 3
POLL_SECONDS = 0.2
KILL_GRACE = 5.0


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes]
    started: float


class Supervisor:
    """Start, watch and stop N web processes sharing one listening socket."""

    def __init__(
        self,
        sock: socket.socket,
        command_for: Callable[[int, int | None], list[str]],
        shutdown_timeout: float,
        env: Mapping[str, str],
    ) -> None:
        self.sock = sock
        self.command_for = command_for
        self.shutdown_timeout = shutdown_timeout
        self.env = dict(env)
        self.children: dict[int, _Child] = {}
        self.stop_signal: str | None = None
        self.fast_exits = 0

    def install_signals(self) -> None:
        """SIGTERM/SIGINT ask for a graceful stop (repeats are ignored)."""

        def handler(signum: int, _frame: object) -> None:
            self.stop_signal = self.stop_signal or signal.Signals(signum).name

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def spawn(
        self, index: int, *, report_fd: int | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        """Start web process *index*, handing it the listening socket (and *report_fd*)."""
        fds: Sequence[int] = (self.sock.fileno(),)
        if report_fd is not None:
            fds = (*fds, report_fd)
        process = subprocess.Popen(
            self.command_for(index, report_fd),
            env=dict(self.env if env is None else env),
            pass_fds=fds,
        )
        self.children[index] = _Child(index, process, time.monotonic())

    def read_report(self, fd: int) -> str | None:
        """The line a child writes to the pipe *fd*; ``None`` if it exits (or we are asked to
        stop) first. Closes *fd*."""
        data = b""
        try:
            while self.stop_signal is None and b"\n" not in data:
                ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
                if ready:
                    chunk = os.read(fd, 64)
                    if not chunk:
                        break
                    data += chunk
        finally:
            os.close(fd)
        return data.decode("ascii", "replace").strip() if b"\n" in data else None

    def supervise(self) -> int:
        """Watch children until a stop signal; returns the exit code."""
        while self.stop_signal is None:
            time.sleep(POLL_SECONDS)
            for child in list(self.children.values()):
                code = child.process.poll()
                if code is None or self.stop_signal is not None:
                    continue
                if not self._restart(child, code):
                    self.stop_signal = "crash loop"
                    self._stop_children()
                    return 1
        return self._stop_children()

    def _restart(self, child: _Child, code: int) -> bool:
        lived = time.monotonic() - child.started
        self.fast_exits = self.fast_exits + 1 if lived < FAST_EXIT_SECONDS else 0
        if self.fast_exits >= MAX_FAST_EXITS:
            log.runtime_error("web", messages.WEB_CRASH_LOOP.format(count=self.fast_exits))
            return False
        log.runtime_warning(
            "web",
            messages.WEB_CHILD_EXITED.format(index=child.index, pid=child.process.pid, code=code),
        )
        if self.fast_exits:
            time.sleep(min(1.0 * self.fast_exits, 5.0))
        self.spawn(child.index)
        return True

    def _stop_children(self) -> int:
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + KILL_GRACE
        for child in self.children.values():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                log.runtime_warning("web", messages.WEB_CHILD_KILLED.format(index=child.index))
                child.process.kill()
                child.process.wait()
        self.sock.close()
        codes = [child.process.returncode for child in self.children.values()]
        log.runtime("web", f"supervisor stopped ({self.stop_signal}); children exited with {codes}")
        return 0 if all(code == 0 for code in codes) else 1


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for children: ours plus *extra* (settings line printed once, by us)."""
    env = dict(os.environ)
    env.update(extra)
    return env
