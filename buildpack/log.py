"""Output helpers: the Heroku build-log style at build time, one-line records at run time.

Build log (stdout is the log): ``-----> Step`` headers, 7-space indented details,
warnings and errors on stderr prefixed with `` !     ``.
Run time: every line starts with ``channels-buildpack:`` so ``heroku logs | grep`` finds them.
"""

from __future__ import annotations

import sys
from typing import TextIO

STEP = "-----> "
INDENT = "       "
BANG = " !     "
RUNTIME_PREFIX = "channels-buildpack"


def _emit(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def step(message: str) -> None:
    """A ``-----> Step`` header in the build log."""
    _emit(sys.stdout, STEP + message)


def detail(message: str) -> None:
    """An indented detail line (or lines) under the current step."""
    for line in message.splitlines() or [""]:
        _emit(sys.stdout, INDENT + line)


def warn(message: str) -> None:
    """A build warning: blank line, `` !     `` prefixed lines, blank line, on stderr."""
    _bang_block("Warning: ", message)


def error(message: str) -> None:
    """A build error block on stderr (the caller exits non-zero)."""
    _bang_block("Error: ", message)


def _bang_block(label: str, message: str) -> None:
    lines = message.strip().splitlines()
    _emit(sys.stderr, "")
    for index, line in enumerate(lines):
        _emit(sys.stderr, BANG + (label if index == 0 else "") + line)
    _emit(sys.stderr, "")


def runtime(component: str, message: str, *, stream: TextIO | None = None) -> None:
    """One run-time record: ``channels-buildpack: <component>: <message>`` on stderr."""
    _emit(stream or sys.stderr, f"{RUNTIME_PREFIX}: {component}: {message}")


def runtime_warning(component: str, message: str) -> None:
    """A loud run-time warning: same prefix, ``WARNING`` marker, so it stands out in logs."""
    runtime(component, f"WARNING: {message}")


def runtime_error(component: str, message: str) -> None:
    """A run-time error record (the caller decides whether to exit)."""
    runtime(component, f"ERROR: {message}")
