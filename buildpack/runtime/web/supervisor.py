"""Pre-fork supervisor for ``WEB_CONCURRENCY`` > 1.

The parent binds ``$PORT`` once and starts N fresh interpreters that each adopt the
listening socket by file descriptor (the kernel spreads connections among them). Fresh
interpreters, not ``fork()`` copies: Daphne's reactor and any threads or connections the
app opens at import time are not fork-safe. The parent stays small (it imports neither
Django nor the app: the first child reads the settings and reports whether they allow more
processes), restarts a child that dies, gives up on a crash loop or on a child that
cannot start (exit code :data:`CANNOT_START`: a configuration error a restart would meet
again), and on SIGTERM/SIGINT passes the signal on and waits for the children's graceful
shutdown.
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
SINGLE, SCALED = "single", "scaled"  # what process 0 reports
CANNOT_START = 3  # a child's exit code: it explained a configuration error; do not restart


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
        self.processes = 1
        self.first_env: Mapping[str, str] = self.env
        self.mode: str | None = None  # what process 0 reported: SCALED or SINGLE
        self._report_fd: int | None = None
        self._report = b""

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

    def start(self, processes: int, first_env: Mapping[str, str]) -> None:
        """Start process 0 (with *first_env* and a report pipe); the others follow once it
        reports :data:`SCALED` (see :meth:`supervise`)."""
        self.processes = processes
        self.first_env = first_env
        self._spawn_reporting()

    def _spawn_reporting(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.spawn(0, report_fd=write_fd, env=self.first_env)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._report_fd, self._report = read_fd, b""

    def _wait(self) -> None:
        """Sleep one poll interval, reading process 0's report meanwhile if it is due."""
        if self._report_fd is None:
            time.sleep(POLL_SECONDS)
            return
        ready, _, _ = select.select([self._report_fd], [], [], POLL_SECONDS)
        if ready:
            self._read_report()

    def _read_report(self) -> None:
        assert self._report_fd is not None
        chunk = os.read(self._report_fd, 64)
        self._report += chunk
        if b"\n" in self._report:
            self.mode = self._report.split(b"\n", 1)[0].decode("ascii", "replace").strip()
            self._close_report()
            if self.mode == SCALED and self.stop_signal is None:
                for index in range(1, self.processes):
                    self.spawn(index)
        elif not chunk:
            self._close_report()  # process 0 is gone; its restart gets a new pipe

    def _close_report(self) -> None:
        if self._report_fd is not None:
            os.close(self._report_fd)
            self._report_fd = None

    def supervise(self) -> int:
        """Watch children until a stop signal; returns the exit code."""
        while self.stop_signal is None:
            self._wait()
            for child in list(self.children.values()):
                code = child.process.poll()
                if code is None or self.stop_signal is not None:
                    continue
                if code == CANNOT_START:
                    log.runtime_error("web", messages.WEB_CHILD_CANNOT_START.format(
                        index=child.index, pid=child.process.pid
                    ))  # fmt: skip
                    return self._give_up("cannot start")
                if not self._restart(child, code):
                    return self._give_up("crash loop")
        return self._stop_children()

    def _give_up(self, reason: str) -> int:
        self.stop_signal = reason
        self._stop_children()
        return 1

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
        if child.index == 0 and self.mode is None:
            # Process 0 died before reporting (a fork of it may still hold the pipe open):
            # the restarted one reads the settings and reports instead.
            self._close_report()
            self._spawn_reporting()
        else:
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
        self._close_report()
        codes = [child.process.returncode for child in self.children.values()]
        log.runtime("web", f"supervisor stopped ({self.stop_signal}); children exited with {codes}")
        return 0 if all(code == 0 for code in codes) else 1


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for children: ours plus *extra* (settings line printed once, by us)."""
    env = dict(os.environ)
    env.update(extra)
    return env
