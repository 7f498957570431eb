"""Shared by the dependency readers: the result types and the reading plumbing.

:class:`DependencyReader` holds one :class:`Dependencies` being filled and the helpers every
format needs (bounded reads, TOML loading, PEP 508 parsing, problem recording).  Each format
module adds its ``read_*`` methods in a subclass; :mod:`buildpack.core.deps` combines them.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import canonicalize_name

from buildpack.core import safefs
from buildpack.redact import redact_text, redact_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# ``name[extra]`` pulls in these packages: ``channels[daphne]`` means daphne is installed.
IMPLIED_EXTRAS: dict[tuple[str, str], tuple[str, ...]] = {
    ("channels", "daphne"): ("daphne",),
    ("channels-redis", "cryptography"): ("cryptography",),
}

# Declaration files larger than this are skipped (they are a few KB in practice).
MAX_FILE_BYTES = 1024 * 1024
# Lock files carry every wheel hash of every platform: real ones exceed 1 MiB.
MAX_LOCK_FILE_BYTES = 16 * 1024 * 1024

# A dyno: the environment in which markers decide whether a requirement applies.  These keys
# override packaging's default environment; the Python version ones stay those of the running
# interpreter (the build runs on the app's Python).
_DYNO_ENVIRONMENT = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
}

# What the parsers raise on hostile input besides their own errors (deep nesting, huge files).
PARSER_FAILURES = (RecursionError, MemoryError, ValueError, UnicodeError, OSError)
TOO_NESTED = "too deeply nested to read"

# pip's own comment rule: ``#`` at the start of the line or after whitespace (not ``#egg=``).
COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_TOML_LINE_RE = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One declared dependency."""

    name: str
    """Canonical name (:func:`packaging.utils.canonicalize_name`)."""
    specifier: str = ""
    """Version specifier as written (PEP 440, or Poetry's raw ``^4.0``); ``""`` if none."""
    extras: tuple[str, ...] = ()
    """Canonical extras, sorted."""
    marker: str = ""
    """Environment marker text, ``""`` if none."""
    url: str = ""
    """Direct reference: ``name @ url``, VCS or archive URL, local path."""
    source: str = ""
    """Where it is declared, e.g. ``requirements.txt:12`` or ``Pipfile [packages]``."""

    def applies_on_dyno(self) -> bool:
        """False only when the marker is valid and says "not on Linux x86_64"."""
        return _marker_applies(self.marker)

    def describe(self) -> str:
        """``[extras]specifier @ url; marker`` (the name excluded), URL passwords masked."""
        text = f"[{','.join(self.extras)}]" if self.extras else ""
        text += self.specifier
        if self.url:
            text += f"{' ' if text else ''}@ {redact_url(self.url)}"
        if self.marker:
            text += f"; {self.marker}"
        return text


@dataclass
class Dependencies:
    """What an app declares and locks."""

    declared: dict[str, Requirement] = field(default_factory=dict)
    """First declaration wins, keyed by canonical name."""
    locked: dict[str, str] = field(default_factory=dict)
    """Canonical name -> version, from ``uv.lock`` / ``poetry.lock`` / ``Pipfile.lock``."""
    files: list[str] = field(default_factory=list)
    """Relative POSIX paths of the files read, in reading order."""
    problems: list[str] = field(default_factory=list)
    """Human-readable, ``file:line: message``."""
    manager: str = "none"
    """``uv``, ``poetry``, ``pipenv``, ``pip``, ``setup.py``, ``pyproject`` or ``none``."""
    constraints: dict[str, Requirement] = field(default_factory=dict)
    """Entries of ``-c`` constraint files: they limit versions but declare nothing."""

    def names(self) -> set[str]:
        """Declared (when applicable on a dyno), locked, and packages implied by extras."""
        result = set(self.locked)
        for name, requirement in self.declared.items():
            if not requirement.applies_on_dyno():
                continue
            result.add(name)
            for extra in requirement.extras:
                result.update(IMPLIED_EXTRAS.get((name, extra), ()))
        return result

    def has(self, name: str) -> bool:
        """Is *name* (any spelling) among :meth:`names`?"""
        return canonicalize_name(name) in self.names()

    def version_hint(self, name: str) -> str:
        """``==x.y.z`` if locked, else the declared specifier, else ``""``."""
        key = canonicalize_name(name)
        if key in self.locked:
            return f"=={self.locked[key]}"
        requirement = self.declared.get(key)
        return requirement.specifier if requirement else ""

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable summary (URL passwords masked)."""
        return {
            "manager": self.manager,
            "declared": {name: req.describe() for name, req in sorted(self.declared.items())},
            "locked": dict(sorted(self.locked.items())),
            "files": list(self.files),
            "problems": list(self.problems),
        }


@functools.lru_cache(maxsize=256)
def _marker_applies(marker: str) -> bool:
    if not marker:
        return True
    try:
        return bool(Marker(marker).evaluate(_DYNO_ENVIRONMENT))
    except Exception:  # invalid or unevaluable: keep the requirement
        return True


def first_line(message: object) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else ""


def _ordered_specifier(requirement: PackagingRequirement, written: str) -> str:
    """The specifier in the order it was written (``>=4.2,<5``, not packaging's sorted form)."""
    specs = [str(spec) for spec in requirement.specifier]
    compact = re.sub(r"\s+", "", written)
    positions = [compact.find(spec) for spec in specs]
    if any(position < 0 for position in positions):
        return str(requirement.specifier)
    return ",".join(spec for _, spec in sorted(zip(positions, specs, strict=True)))


def canonical_extras(extras: object) -> tuple[str, ...]:
    if isinstance(extras, str):
        extras = [extras]
    if not isinstance(extras, (list, tuple, set, frozenset)):
        return ()
    return tuple(sorted({canonicalize_name(str(e)) for e in extras if str(e).strip()}))


class DependencyReader:
    """Accumulates one :class:`Dependencies` while reading files under *root*."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = real_path(root)
        self.deps = Dependencies()
        self._texts: dict[Path, str | None] = {}

    # ---- plumbing -------------------------------------------------------------------------

    def display(self, path: Path) -> str:
        """*path* relative to the root, POSIX style (``..`` allowed for includes outside)."""
        for base in (self.root, self.real_root):
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                continue
        try:
            relative = os.path.relpath(path, self.root)
        except ValueError:  # another drive on Windows
            relative = str(path)
        return Path(relative).as_posix()

    def problem(self, where: str, line: int | None, message: str) -> None:
        prefix = f"{where}:{line}" if line else where
        self.deps.problems.append(f"{prefix}: {message}")

    def add(self, target: dict[str, Requirement], requirement: Requirement) -> None:
        target.setdefault(requirement.name, requirement)

    def read_text(self, path: Path, limit: int = MAX_FILE_BYTES, record: bool = True) -> str | None:
        """Contents of *path*, or None if absent/unreadable (problem recorded when *record*)."""
        name = self.display(path)
        try:
            data = safefs.read_bytes(path, limit)
        except FileNotFoundError:
            return None
        except safefs.FileTooLarge as exc:
            if record:
                self.problem(name, None, f"{exc.size} bytes is too large (over {limit}); not read")
            return None
        except safefs.UnsafeFile as exc:
            if record:
                self.problem(name, None, f"{exc.reason}; not read")
            return None
        except OSError as exc:
            if record:
                self.problem(name, None, f"cannot read: {exc.strerror or exc}")
            return None
        if record and name not in self.deps.files:
            self.deps.files.append(name)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", errors="replace")
            if record:
                line = data[: exc.start].count(b"\n") + 1
                self.problem(name, line, "not valid UTF-8; undecodable bytes replaced")
        return text.removeprefix("\ufeff")

    def load_toml(
        self, path: Path, limit: int = MAX_FILE_BYTES, record: bool = True
    ) -> tuple[dict[str, object], str] | None:
        text = self.read_text(path, limit, record)
        if text is None:
            return None
        try:
            data: dict[str, object] = tomllib.loads(text)
        except (RecursionError, MemoryError):
            if record:
                self.problem(self.display(path), None, f"invalid TOML: {TOO_NESTED}")
            return None
        except ValueError as exc:  # tomllib.TOMLDecodeError
            if record:
                message = str(exc)
                match = _TOML_LINE_RE.search(message)
                line = int(match.group(1)) if match else getattr(exc, "lineno", None)
                message = _TOML_LINE_RE.sub("", message)
                self.problem(self.display(path), line, f"invalid TOML: {message}")
            return None
        return data, text

    def parse_pep508(
        self, text: str, source: str, where: str, line: int | None
    ) -> Requirement | None:
        """A :class:`Requirement` from a PEP 508 string; problems recorded, never raises."""
        text = text.strip()
        try:
            parsed = PackagingRequirement(text)
        except (RecursionError, MemoryError):
            self.problem(where, line, f"cannot parse '{echo(text)}': {TOO_NESTED}")
            return None
        except InvalidRequirement as exc:
            head, sep, tail = text.partition(";")
            if sep and tail.strip():
                try:
                    parsed = PackagingRequirement(head.strip())
                except (InvalidRequirement, RecursionError, MemoryError):
                    pass
                else:
                    self.problem(
                        where,
                        line,
                        f"invalid marker '{echo(tail.strip())}' in '{echo(text)}': "
                        f"{first_line(exc)}",
                    )
                    return self.from_packaging(parsed, head, source, marker=tail.strip())
            self.problem(where, line, f"cannot parse '{echo(text)}': {first_line(exc)}")
            return None
        return self.from_packaging(parsed, text, source)

    @staticmethod
    def from_packaging(
        parsed: PackagingRequirement, written: str, source: str, marker: str | None = None
    ) -> Requirement:
        return Requirement(
            name=canonicalize_name(parsed.name),
            specifier=_ordered_specifier(parsed, written),
            extras=canonical_extras(parsed.extras),
            marker=marker if marker is not None else (str(parsed.marker) if parsed.marker else ""),
            url=parsed.url or "",
            source=source,
        )

    def check_marker(self, marker: str, where: str, line: int | None, what: str) -> str:
        """Normalised marker text; an invalid one is kept as written, with a problem."""
        marker = marker.strip()
        if not marker:
            return ""
        try:
            return str(Marker(marker))
        except (RecursionError, MemoryError):
            self.problem(where, line, f"{what}: invalid marker: {TOO_NESTED}")
            return marker
        except InvalidMarker as exc:
            self.problem(where, line, f"{what}: invalid marker '{marker}': {first_line(exc)}")
            return marker

    def guarded(self, where: str, read: Callable[[], None]) -> None:
        """Run one format's reader; a parser failure becomes a problem naming *where*."""
        try:
            read()
        except (RecursionError, MemoryError):
            self.problem(where, None, f"{TOO_NESTED}; not analysed")
        except PARSER_FAILURES as exc:
            self.problem(where, None, f"cannot be read ({type(exc).__name__}); not analysed")


def echo(text: str, limit: int = 200) -> str:
    """*text* as quoted in a problem: URL passwords masked, at most *limit* characters."""
    shown = redact_text(text)  # before cutting: a cut URL would hide its password from it
    return shown if len(shown) <= limit else shown[:limit] + "..."


def real_path(path: Path) -> Path:
    """The real path of *path* (a symlink loop is left as it is, never raised)."""
    return Path(os.path.realpath(path))


def line_of(text: str, needle: str) -> int | None:
    """1-based number of the first line containing *needle*."""
    if needle:
        for number, line in enumerate(text.splitlines(), start=1):
            if needle in line:
                return number
    return None


def key_line(text: str, key: str, header: str) -> int | None:
    """1-based line of ``key = ...`` after the ``[header]`` line (anywhere if no header)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == header), 0)
    pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
    for index in range(start, len(lines)):
        if pattern.match(lines[index]):
            return index + 1
    return None


def subtable(data: object, key: str) -> dict[str, object]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def vcs_url(base: str, ref: object, subdirectory: object = None) -> str:
    url = base if base.startswith("git+") else f"git+{base}"
    if isinstance(ref, str) and ref:
        url += f"@{ref}"
    if isinstance(subdirectory, str) and subdirectory:
        url += f"#subdirectory={subdirectory}"
    return url
