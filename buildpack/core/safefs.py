"""The one way the build reads and writes files in a user's repository.

A repository is untrusted input: a path we read may be a FIFO (opening it blocks forever), a
device, a directory, or a huge file; a path we write may be a symlink leading out of the
build directory, or a directory where we expect a file. So:

* :func:`read_bytes` / :func:`read_text` read regular files only, up to a size limit, and
  never block: the file is checked before it is opened, opened non-blocking, checked again.
* :func:`write_text` writes below a root directory only: it creates missing parent
  directories, follows a symlink only when it stays inside the root, refuses to replace
  anything but a regular file, and replaces the file atomically (a temporary file renamed
  over it, so a hard link to a file elsewhere is never written through).

Refusals raise :class:`UnsafeFile`, an :class:`OSError`, whose ``reason`` is one phrase for
the build log. Stdlib only and parseable by Python 3.8: ``bin/detect`` loads this module
with whatever ``python3`` the build image has.
"""

from __future__ import annotations

import os
import stat
import tempfile

_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_CHUNK = 1024 * 1024
_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class UnsafeFile(OSError):
    """A path the build refuses to read or write; ``reason`` says why, in one phrase."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.strerror = reason
        self.filename = path
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return self.path + ": " + self.reason


class FileTooLarge(UnsafeFile):
    """A regular file over the size limit of the reader."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(path, "{} bytes, over the {}-byte limit".format(size, limit))
        self.size = size
        self.limit = limit


def kind(mode: int) -> str:
    """``a directory``, ``a FIFO (named pipe)``... for *mode*."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"


def _require_regular(path: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise UnsafeFile(path, "is " + kind(mode) + ", not a regular file")


def read_bytes(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of regular file *path* (symlinks followed), at most *limit* of them.

    Raises :class:`UnsafeFile` for special files and directories, :class:`FileTooLarge` over
    *limit*, and :class:`OSError` when it cannot be read. Never blocks on a FIFO or device.
    """
    name = os.fspath(path)
    info = os.stat(name)
    _require_regular(name, info.st_mode)
    if info.st_size > limit:
        raise FileTooLarge(name, info.st_size, limit)
    descriptor = os.open(name, _READ_FLAGS)
    try:
        _require_regular(name, os.fstat(descriptor).st_mode)  # replaced after the first check
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(_CHUNK, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew, or st_size lied (procfs)
        raise FileTooLarge(name, len(data), limit)
    return data


def read_text(path: str | os.PathLike[str], limit: int) -> str:
    """:func:`read_bytes` decoded as UTF-8 (undecodable bytes replaced, a BOM dropped)."""
    text = read_bytes(path, limit).decode("utf-8", errors="replace")
    return text[1:] if text.startswith("\ufeff") else text


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _display(root: str, path: str) -> str:
    try:
        relative = os.path.relpath(path, root)
    except ValueError:
        return path
    return relative.replace(os.sep, "/")


def _step(root: str, current: str, name: str, last: bool) -> str:
    """Where *name* inside directory *current* leads: itself, or a symlink's target inside
    *root*. Missing parent directories are created."""
    path = os.path.join(current, name)
    shown = _display(root, path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not last:
            os.mkdir(path, 0o755)
        return path
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        if not _inside(target, root):
            raise UnsafeFile(shown, "is a symlink leading outside the build directory")
        try:
            info = os.stat(target)
        except FileNotFoundError:
            if last and os.path.isdir(os.path.dirname(target)):
                return target  # a dangling link to a new file inside the build directory
            raise UnsafeFile(shown, "is a symlink to a missing path") from None
        path = target
    if last:
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(shown, "is " + kind(info.st_mode) + ", not a regular file")
    elif not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(shown, "is " + kind(info.st_mode) + " where a directory is needed")
    return path


def resolve_inside(root: str | os.PathLike[str], relative: str) -> str:
    """The real path *relative* (``/``-separated) names below *root*, creating missing parent
    directories; :class:`UnsafeFile` when it would leave *root* or is not a regular file."""
    real_root = os.path.realpath(os.fspath(root))
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if not parts or ".." in parts or relative.startswith("/"):
        raise UnsafeFile(relative, "is not a path inside the build directory")
    current = real_root
    for index, part in enumerate(parts):
        current = _step(real_root, current, part, index == len(parts) - 1)
    return current


def write_text(root: str | os.PathLike[str], relative: str, text: str, mode: int = 0o644) -> str:
    """Write *text* (UTF-8) to *relative* below *root*, atomically; returns the real path.

    Refuses (:class:`UnsafeFile`, nothing written) a symlink out of *root* anywhere on the
    way and anything but a regular file at the end.
    """
    target = resolve_inside(root, relative)
    directory = os.path.dirname(target)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".channels-buildpack-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    return target
