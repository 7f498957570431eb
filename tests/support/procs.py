"""Start real processes for tests and make sure every one of them is gone afterwards.

Every process is started with ``start_new_session=True``: it leads its own process group
(pgid == pid), so signalling the group reaches the shell, the server and every worker it
forked, and a Ctrl-C in the terminal does not hit it behind the test's back. Output
(stdout + stderr merged) goes to a log FILE, never a pipe, so a chatty process can never
block on a full pipe and the log survives the process for post-mortems.

Three layers make sure nothing leaks:

1. :meth:`ManagedProcess.stop` / :class:`ProcessGroup` / the ``procs`` fixture stop what a
   test started (SIGTERM to the group, bounded wait, then SIGKILL to the group).
2. An ``atexit`` hook SIGKILLs every group still registered when the interpreter exits.
3. A tiny *guardian* process (one per interpreter, started on first use) holds the read
   end of a pipe and is told every pgid we start. When the pipe hits EOF -- which also
   happens when the test runner is SIGKILLed or calls ``os._exit`` (pytest-timeout's
   "thread" method), when ``atexit`` never runs -- it SIGKILLs the groups left over.

Pid recycling: a process's pid is also its pgid, so killing a group after its number was
recycled could hit an unrelated process group. :meth:`ManagedProcess.poll`/``wait`` use
``waitid(WNOWAIT)`` and the leader is only reaped once its whole group is gone: until
then its zombie pins the number. (So don't call ``proc.popen.wait()``/``poll()`` yourself.)

Known limit: a descendant that calls ``setsid()`` / ``setpgid()`` itself leaves our group
and is out of reach (daemonizing servers must be run in the foreground).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "ManagedProcess",
    "ProcessGroup",
    "find",
    "group_members",
    "live_processes",
    "pid_alive",
    "start",
]

Command = Sequence[str] | str

_lock = threading.RLock()


def _unignore_interrupts() -> None:
    """Let children see SIGINT/SIGQUIT as on a terminal or a dyno.

    A shell without job control starts background commands (``cmd &``, CI wrappers) with
    SIGINT and SIGQUIT ignored, an ignored disposition survives ``exec``, and Python then
    installs no KeyboardInterrupt handler: every process we start would ignore Ctrl-C.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGQUIT) is signal.SIG_IGN:
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)


_unignore_interrupts()
#: pgid -> process, for every group that has not been confirmed empty yet.
_live: dict[int, ManagedProcess] = {}
#: pid -> process, for everything started in this interpreter (for log look-ups by pid).
_by_pid: weakref.WeakValueDictionary[int, ManagedProcess] = weakref.WeakValueDictionary()
_log_root: Path | None = None
_name_counter = 0


# --------------------------------------------------------------------------- /proc helpers


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, pgrp) of ``pid`` from /proc, or None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # "pid (comm) state ppid pgrp ..." -- comm may contain spaces and parentheses.
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (zombies count as dead here)."""
    if Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        return stat is not None and stat[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid``.

    Scans /proc on Linux. Elsewhere it can only tell whether the group exists at all and
    returns ``[pgid]`` in that case (zombies included).
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


# --------------------------------------------------------------------------- the guardian

_GUARDIAN_SOURCE = r"""
import os, signal, sys
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


class _Guardian:
    """Out-of-process safety net: SIGKILLs registered groups when our end of the pipe closes."""

    def __init__(self) -> None:
        self._popen: subprocess.Popen[bytes] | None = None
        self._failed = False

    def _pipe(self) -> IO[bytes] | None:
        if self._popen is None and not self._failed:
            try:
                self._popen = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _GUARDIAN_SOURCE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError:
                self._failed = True
        return self._popen.stdin if self._popen is not None else None

    def _send(self, line: str) -> None:
        pipe = self._pipe()
        if pipe is None:
            return
        try:
            pipe.write(line.encode() + b"\n")
            pipe.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._failed = True

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        if self._popen is not None:
            self._send(f"-{pgid}")

    def close(self) -> None:
        if self._popen is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if self._popen.stdin is not None:
                self._popen.stdin.close()
        try:
            self._popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait()
        self._popen = None


_guardian = _Guardian()


def _register(proc: ManagedProcess) -> None:
    with _lock:
        _live[proc.pid] = proc
        _by_pid[proc.pid] = proc
        _guardian.watch(proc.pid)


def _unregister(proc: ManagedProcess) -> None:
    with _lock:
        if _live.pop(proc.pid, None) is not None:
            _guardian.forget(proc.pid)


def live_processes() -> list[ManagedProcess]:
    """Processes whose group has not been confirmed empty (i.e. not stopped) yet."""
    with _lock:
        return list(_live.values())


def find(pid: int) -> ManagedProcess | None:
    """The :class:`ManagedProcess` started in this interpreter with ``pid``, if any."""
    with _lock:
        return _by_pid.get(pid)


@atexit.register
def _kill_leftovers_at_exit() -> None:
    for proc in reversed(live_processes()):
        with contextlib.suppress(Exception):
            proc.kill()
    _guardian.close()
    if _log_root is not None:
        shutil.rmtree(_log_root, ignore_errors=True)


def _default_log_dir() -> Path:
    global _log_root  # noqa: PLW0603 -- one lazily created temp dir per interpreter
    with _lock:
        if _log_root is None:
            _log_root = Path(tempfile.mkdtemp(prefix="tests-support-logs-"))
        return _log_root


def _default_name(cmd: Command) -> str:
    words = cmd.split() if isinstance(cmd, str) else list(cmd)
    return Path(words[0]).name if words else "proc"


def _log_path_for(name: str, log_dir: Path | None) -> Path:
    global _name_counter  # noqa: PLW0603
    directory = Path(log_dir) if log_dir is not None else _default_log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with _lock:
        _name_counter += 1
        n = _name_counter
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "proc"
    return directory / f"{safe}-{n}.log"


# --------------------------------------------------------------------------- ManagedProcess


class ManagedProcess:
    """A subprocess in its own process group with its output captured in a log file.

    ``cmd`` is a list of arguments, or a string (split with :func:`shlex.split`, or run by
    ``/bin/sh -c`` when ``shell=True``). ``env``, when given, is the COMPLETE environment of
    the child -- nothing is inherited; build it as ``{**os.environ, "X": "1"}`` yourself.
    Output goes to ``log_path`` (created/truncated), or to a file in a per-interpreter temp
    directory that is removed at interpreter exit. stdin is ``/dev/null``.

    The process starts in the constructor; :func:`start` is the usual entry point.
    """

    def __init__(
        self,
        cmd: Command,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "",
        shell: bool = False,
        log_path: Path | str | None = None,
    ) -> None:
        if shell:
            args: list[str] | str = cmd if isinstance(cmd, str) else shlex.join(cmd)
        else:
            args = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        self.name: str = name or _default_name(cmd)
        self.cmd: list[str] | str = args
        self.log_path: Path = (
            Path(log_path) if log_path is not None else _log_path_for(self.name, None)
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.popen: subprocess.Popen[bytes] = subprocess.Popen(
                args,
                shell=shell,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _register(self)

    # -- identity / state

    @property
    def pid(self) -> int:
        """Pid of the process (also the pgid of its process group)."""
        return self.popen.pid

    @property
    def pgid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        """Exit code (negative signal number if killed by one), or None while running.

        Does NOT reap: an exited process stays a zombie until :meth:`stop`/:meth:`kill`, so
        its pid -- which is also the pgid -- cannot be recycled by an unrelated process
        group that a later group-kill (or the atexit hook, or the guardian) would hit.
        Don't call ``self.popen.poll()``/``wait()`` yourself, for the same reason.
        """
        if self.popen.returncode is not None:
            return self.popen.returncode
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped behind our back (e.g. popen.wait())
            return self.popen.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    @property
    def returncode(self) -> int | None:
        """Same as :meth:`poll`."""
        return self.poll()

    def is_running(self) -> bool:
        return self.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process itself to exit and return its code (not reaping it, see
        :meth:`poll`). Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.002
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.cmd, timeout or 0.0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name!r} pid={self.pid} returncode={self.returncode}>"

    # -- output

    def output(self) -> str:
        """The whole log so far (undecodable bytes replaced)."""
        try:
            return self.log_path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n_lines: int = 60) -> str:
        """The last ``n_lines`` lines of the log."""
        return "\n".join(self.output().splitlines()[-n_lines:])

    def wait_for_output(
        self, pattern: str | re.Pattern[str], timeout: float, *, since: int = 0
    ) -> re.Match[str]:
        """Poll the log until ``pattern`` matches (``re.search``, MULTILINE for str patterns).

        ``since`` is a character offset into :meth:`output` to start searching from (e.g.
        ``len(proc.output())`` taken before triggering something, to only see new output).
        Raises ``RuntimeError`` if the process exits without the pattern having appeared and
        ``TimeoutError`` after ``timeout`` seconds; both messages carry the log tail.
        """
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            code = self.poll()
            match = regex.search(self.output(), since)
            if match is not None:
                return match
            if code is not None:  # output was read after the exit was seen: it's complete
                raise RuntimeError(
                    f"{self.name} (pid {self.pid}) exited with code {code} "
                    f"before printing {regex.pattern!r}\n--- last output ---\n{self.tail()}"
                )
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.name} (pid {self.pid}) did not print {regex.pattern!r} within "
                    f"{timeout}s\n--- last output ---\n{self.tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    # -- signals / stopping

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process itself only (no-op once it has been reaped)."""
        if self.popen.returncode is None:  # not reaped: the pid is still ours
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def signal_group(self, sig: int) -> None:
        """Send ``sig`` to the whole process group (no-op if the group is gone)."""
        _killpg(self.pgid, sig)

    def group_alive(self) -> bool:
        """True while the process or anything left in its group is alive."""
        return self.poll() is None or bool(group_members(self.pgid))

    def stop(self, timeout: float = 10.0, *, signalled: bool = False) -> int | None:
        """SIGTERM the group (unless the caller just did: *signalled*), wait up to
        ``timeout`` for the whole group to exit, then SIGKILL the group. Returns the exit
        code (None only if even SIGKILL didn't reap it within 5 s, e.g. a process stuck in
        uninterruptible I/O). Idempotent."""
        deadline = time.monotonic() + timeout
        if self.group_alive():
            if not signalled:
                self.signal_group(signal.SIGTERM)
            _wait_until(lambda: not self.group_alive(), deadline)
        if self.group_alive():
            self.signal_group(signal.SIGKILL)
        return self._reap()

    def kill(self) -> int | None:
        """SIGKILL the whole group right away and reap. Returns the exit code."""
        self.signal_group(signal.SIGKILL)
        return self._reap()

    def _reap(self) -> int | None:
        # Reap the leader only once the group is empty: until then its zombie pins the pgid.
        if _wait_until(lambda: not self.group_alive(), time.monotonic() + 5):
            self.popen.wait()
            _unregister(self)
        return self.poll()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _wait_until(condition: Callable[[], bool], deadline: float) -> bool:
    delay = 0.005
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def start(
    cmd: Command,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    name: str = "",
    shell: bool = False,
    log_dir: Path | None = None,
) -> ManagedProcess:
    """Start ``cmd`` as a :class:`ManagedProcess` (see there for ``cmd``/``shell``).

    ``env`` is the COMPLETE environment when given (not merged with ``os.environ``).
    The log goes to ``log_dir/<name>-<n>.log``, or a temp dir removed at interpreter exit.
    The caller owns the process: stop it, or use :class:`ProcessGroup` / the ``procs``
    fixture, which do it for you.
    """
    name = name or _default_name(cmd)
    return ManagedProcess(
        cmd,
        env=env,
        cwd=cwd,
        name=name,
        shell=shell,
        log_path=_log_path_for(name, log_dir),
    )


class ProcessGroup:
    """Tracks the processes a test starts and stops them all, newest first.

    ``stop_all`` keeps going when one ``stop`` fails and re-raises the first error at the
    end. Usable as a context manager; the ``procs`` fixture wraps one per test.
    """

    def __init__(self, log_dir: Path | None = None, stop_timeout: float = 10.0) -> None:
        self.log_dir = log_dir
        self.stop_timeout = stop_timeout
        self._procs: list[ManagedProcess] = []

    def start(
        self,
        cmd: Command,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        name: str = "",
        shell: bool = False,
        log_dir: Path | None = None,
    ) -> ManagedProcess:
        """:func:`start` and track. ``log_dir`` defaults to the group's ``log_dir``."""
        proc = start(
            cmd,
            env=env,
            cwd=cwd,
            name=name,
            shell=shell,
            log_dir=log_dir if log_dir is not None else self.log_dir,
        )
        self._procs.append(proc)
        return proc

    def add(self, proc: ManagedProcess) -> ManagedProcess:
        """Track a process started elsewhere."""
        self._procs.append(proc)
        return proc

    def stop_all(self, timeout: float | None = None) -> None:
        """Stop every tracked process, each with ``timeout``: SIGTERM to all of them first
        (newest first), so their graceful stops overlap, then wait for each in turn."""
        first_error: BaseException | None = None
        signalled = set()
        for proc in reversed(self._procs):
            with contextlib.suppress(OSError):
                if proc.group_alive():
                    proc.signal_group(signal.SIGTERM)
                    signalled.add(id(proc))
        while self._procs:
            proc = self._procs.pop()
            try:
                wait = self.stop_timeout if timeout is None else timeout
                proc.stop(wait, signalled=id(proc) in signalled)
            except BaseException as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def __iter__(self) -> Iterator[ManagedProcess]:
        return iter(list(self._procs))

    def __len__(self) -> int:
        return len(self._procs)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
