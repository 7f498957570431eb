"""Which Python packages does the app declare? Read statically, never by running user code.

Reads ``requirements.txt`` (and the files it includes), ``pyproject.toml`` (PEP 621 and Poetry),
``Pipfile``, ``setup.cfg``, ``setup.py`` (with :mod:`ast`, never executed) and the lock files
``uv.lock``, ``poetry.lock`` and ``Pipfile.lock``.  Malformed content never raises: every
difficulty becomes a human-readable entry in :attr:`Dependencies.problems`.

Every declaration file present is read, the one of the package manager heroku/python would use
first, so its declaration of a package wins over the others.
"""

from __future__ import annotations

import ast
import configparser
import functools
import json
import os
import posixpath
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from buildpack.redact import redact_text, redact_url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "IMPLIED_EXTRAS",
    "MAX_FILE_BYTES",
    "MAX_LOCK_FILE_BYTES",
    "Dependencies",
    "Requirement",
    "read_dependencies",
]

# ``name[extra]`` pulls in these packages: ``channels[daphne]`` means daphne is installed.
IMPLIED_EXTRAS: dict[tuple[str, str], tuple[str, ...]] = {
    ("channels", "daphne"): ("daphne",),
    ("channels-redis", "cryptography"): ("cryptography",),
}

# Declaration files larger than this are skipped (they are a few KB in practice).
MAX_FILE_BYTES = 1024 * 1024
# Lock files carry every wheel hash of every platform: real ones exceed 1 MiB.
MAX_LOCK_FILE_BYTES = 16 * 1024 * 1024
# ``-r`` / ``-c`` nesting deeper than this is reported, not followed.
MAX_INCLUDE_DEPTH = 10

# Which tool heroku/python installs with, by precedence, and the files that select it.
_MANAGER_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("uv", ("uv.lock",)),
    ("poetry", ("poetry.lock",)),
    ("pipenv", ("Pipfile.lock", "Pipfile")),
    ("pip", ("requirements.txt",)),
    ("setup.py", ("setup.py", "setup.cfg")),
    ("pyproject", ("pyproject.toml",)),
)

# A dyno: the environment in which markers decide whether a requirement applies.  These keys
# override packaging's default environment; the Python version ones stay those of the running
# interpreter (the build runs on the app's Python).
_DYNO_ENVIRONMENT = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_machine": "x86_64",
}

# pip's own comment rule: ``#`` at the start of the line or after whitespace (not ``#egg=``).
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_NAMED_URL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*\s*(\[[^\]]*\])?\s*@")
_TRAILING_EXTRAS_RE = re.compile(r"^(.+?)(\[[^\]]*\])$")
_VALID_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_TOML_LINE_RE = re.compile(r"\s*\(at line (\d+), column \d+\)\s*$")
_ARCHIVE_SUFFIXES = (
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".zip",
    ".tar",
)

# requirements.txt options: those that take a value, and flags.  All are irrelevant here.
_IGNORED_VALUE_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--no-binary",
        "--only-binary",
        "--trusted-host",
        "--use-feature",
        "--hash",
        "--config-settings",
        "--global-option",
    }
)
_IGNORED_FLAG_OPTIONS = frozenset({"--no-index", "--prefer-binary", "--pre", "--require-hashes"})
_INCLUDE_OPTIONS = frozenset({"-r", "--requirement"})
_CONSTRAINT_OPTIONS = frozenset({"-c", "--constraint"})
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_SHORT_VALUE_OPTIONS = frozenset({"-r", "-c", "-e", "-i", "-f"})
_VALUE_OPTIONS = _IGNORED_VALUE_OPTIONS | _INCLUDE_OPTIONS | _CONSTRAINT_OPTIONS | _EDITABLE_OPTIONS

# Pipfile entries may carry marker variables as keys: ``sys_platform = "== 'win32'"``.
_MARKER_VARIABLES = frozenset(
    {
        "os_name",
        "sys_platform",
        "platform_machine",
        "platform_python_implementation",
        "platform_release",
        "platform_system",
        "platform_version",
        "python_version",
        "python_full_version",
        "implementation_name",
        "implementation_version",
    }
)


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


def read_dependencies(root: Path) -> Dependencies:
    """Read every dependency file of the app at *root*; never raises for bad content."""
    root = Path(root)
    reader = _Reader(root)
    deps = reader.deps
    deps.manager = _detect_manager(root)
    declaration_readers: dict[str, Callable[[], None]] = {
        "pip": reader.read_requirements_txt,
        "pyproject": reader.read_pyproject,
        "pipenv": reader.read_pipfile,
        "setup.cfg": reader.read_setup_cfg,
        "setup.py": reader.read_setup_py,
    }
    primary = {"uv": "pyproject", "poetry": "pyproject"}.get(deps.manager, deps.manager)
    order = list(declaration_readers)
    if primary in declaration_readers:
        order.remove(primary)
        order.insert(0, primary)
        if primary == "setup.py":  # setup.cfg and setup.py describe the same thing
            order.remove("setup.cfg")
            order.insert(0, "setup.cfg")
    for key in order:
        declaration_readers[key]()
    reader.read_uv_lock()
    reader.read_poetry_lock()
    reader.read_pipfile_lock()
    return deps


def _detect_manager(root: Path) -> str:
    """The tool heroku/python would install with, by its precedence."""

    for manager, filenames in _MANAGER_FILES:
        if any((root / filename).is_file() for filename in filenames):
            return manager
    return "none"


@functools.lru_cache(maxsize=256)
def _marker_applies(marker: str) -> bool:
    if not marker:
        return True
    try:
        return bool(Marker(marker).evaluate(_DYNO_ENVIRONMENT))
    except Exception:  # invalid or unevaluable: keep the requirement
        return True


def _first_line(message: object) -> str:
    lines = str(message).strip().splitlines()
    return lines[0] if lines else ""


def _is_url(text: str) -> bool:
    return bool(_URL_SCHEME_RE.match(text)) or text.startswith("file:")


def _looks_like_location(text: str) -> bool:
    """A URL or a path (pip's rules, roughly) rather than a PEP 508 requirement."""
    if _NAMED_URL_RE.match(text):
        return False
    if _is_url(text):
        return True
    head = text.split(";", 1)[0].strip()
    return (
        head.startswith((".", "/", "~"))
        or "/" in head
        or "\\" in head
        or bool(re.match(r"^[A-Za-z]:", head))
        or head.lower().endswith(_ARCHIVE_SUFFIXES)
    )


def _ordered_specifier(requirement: PackagingRequirement, written: str) -> str:
    """The specifier in the order it was written (``>=4.2,<5``, not packaging's sorted form)."""
    specs = [str(spec) for spec in requirement.specifier]
    compact = re.sub(r"\s+", "", written)
    positions = [compact.find(spec) for spec in specs]
    if any(position < 0 for position in positions):
        return str(requirement.specifier)
    return ",".join(spec for _, spec in sorted(zip(positions, specs, strict=True)))


def _canonical_extras(extras: object) -> tuple[str, ...]:
    if isinstance(extras, str):
        extras = [extras]
    if not isinstance(extras, (list, tuple, set, frozenset)):
        return ()
    return tuple(sorted({canonicalize_name(str(e)) for e in extras if str(e).strip()}))


def _strip_egg(fragment: str) -> str | None:
    for part in fragment.split("&"):
        if part.startswith("egg="):
            return unquote(part[4:]).strip() or None
    return None


def _name_from_archive(filename: str) -> str | None:
    """Best-effort project name of a wheel or sdist file name."""
    lower = filename.lower()
    if lower.endswith(".whl"):
        try:
            return str(parse_wheel_filename(filename)[0])
        except InvalidWheelFilename:
            head = filename.split("-", 1)[0]
            return head if _VALID_NAME_RE.match(head) else None
    if lower.endswith((".tar.gz", ".zip")):
        try:
            return str(parse_sdist_filename(filename)[0])
        except InvalidSdistFilename:
            pass
    for suffix in _ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, version = stem.rpartition("-")
            if sep and version[:1].isdigit() and _VALID_NAME_RE.match(name):
                return name
            return None
    return None


@dataclass(frozen=True)
class _FileContext:
    """The requirements file being read: where its entries go, which files include it."""

    path: Path
    name: str
    target: dict[str, Requirement]
    stack: tuple[Path, ...]


class _Reader:
    """Accumulates one :class:`Dependencies` while reading files under *root*."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = root.resolve()
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
            if not path.is_file():
                return None
            size = path.stat().st_size
            if size > limit:
                if record:
                    self.problem(name, None, f"{size} bytes is too large (over {limit}); not read")
                return None
            data = path.read_bytes()
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
        except tomllib.TOMLDecodeError as exc:
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
        except InvalidRequirement as exc:
            head, sep, tail = text.partition(";")
            if sep and tail.strip():
                try:
                    parsed = PackagingRequirement(head.strip())
                except InvalidRequirement:
                    pass
                else:
                    self.problem(
                        where,
                        line,
                        f"invalid marker '{tail.strip()}' in '{redact_text(text)}': "
                        f"{_first_line(exc)}",
                    )
                    return self.from_packaging(parsed, head, source, marker=tail.strip())
            self.problem(where, line, f"cannot parse '{redact_text(text)}': {_first_line(exc)}")
            return None
        return self.from_packaging(parsed, text, source)

    @staticmethod
    def from_packaging(
        parsed: PackagingRequirement, written: str, source: str, marker: str | None = None
    ) -> Requirement:
        return Requirement(
            name=canonicalize_name(parsed.name),
            specifier=_ordered_specifier(parsed, written),
            extras=_canonical_extras(parsed.extras),
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
        except InvalidMarker as exc:
            self.problem(where, line, f"{what}: invalid marker '{marker}': {_first_line(exc)}")
            return marker

    # ---- requirements.txt -----------------------------------------------------------------

    def read_requirements_txt(self) -> None:
        self.read_requirements_file(self.root / "requirements.txt", self.deps.declared, (), None)

    def read_requirements_file(
        self,
        path: Path,
        target: dict[str, Requirement],
        stack: tuple[Path, ...],
        where: tuple[str, int] | None,
    ) -> None:
        """Read one pip requirements file; *where* is the including ``(file, line)``."""
        real = path.resolve()
        if where is not None:
            if real in stack:
                chain = " -> ".join(self.display(p) for p in (*stack, real))
                self.problem(*where, f"include cycle: {chain}; not followed")
                return
            if len(stack) > MAX_INCLUDE_DEPTH:
                self.problem(
                    *where, f"includes nested deeper than {MAX_INCLUDE_DEPTH}; not followed"
                )
                return
            if not path.is_file():
                self.problem(*where, f"included file '{self.display(path)}' not found")
                return
            if self.display(path) in self.deps.files:
                return  # already read through another include: nothing new
        text = self.read_text(path)
        if text is None:
            return
        context = _FileContext(path, self.display(path), target, (*stack, real))
        for number, line in _logical_lines(text):
            if line.startswith("-"):
                self.option_line(line, context, number)
            else:
                self.requirement_line(line, context, number)

    def requirement_line(self, line: str, context: _FileContext, number: int) -> None:
        # pip: the requirement ends at the first word starting with "-" (--hash=..., ...).
        words = line.split()
        cut = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        text = " ".join(words[:cut])
        source = f"{context.name}:{number}"
        if _looks_like_location(text):
            requirement = self.location_requirement(text, source, context.name, number)
        else:
            requirement = self.parse_pep508(text, source, context.name, number)
        if requirement is not None:
            self.add(context.target, requirement)

    def option_line(self, line: str, context: _FileContext, number: int) -> None:
        """``-r``/``-c`` includes, ``-e`` editables; index and install options ignored."""
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        while tokens:
            token = tokens.pop(0)
            option, value = token, None
            if token.startswith("--") and "=" in token:
                option, _, value = token.partition("=")
            elif token[:2] in _SHORT_VALUE_OPTIONS and len(token) > 2 and token[1] != "-":
                option, value = token[:2], token[2:]
            if option in _IGNORED_FLAG_OPTIONS:
                continue
            if option not in _VALUE_OPTIONS:
                self.problem(context.name, number, f"unsupported option '{option}' ignored")
                return
            if value is None:
                if not tokens:
                    self.problem(context.name, number, f"option '{option}' needs a value")
                    return
                value = tokens.pop(0)
            if option in _EDITABLE_OPTIONS:
                source = f"{context.name}:{number}"
                requirement = self.location_requirement(value, source, context.name, number)
                if requirement is not None:
                    self.add(context.target, requirement)
            elif option in _INCLUDE_OPTIONS or option in _CONSTRAINT_OPTIONS:
                self.include(value, option in _CONSTRAINT_OPTIONS, context, number)

    def include(self, value: str, constraint: bool, context: _FileContext, number: int) -> None:
        where = (context.name, number)
        if _is_url(value) and not value.startswith("file:"):
            self.problem(*where, f"remote file '{redact_url(value)}' not read")
            return
        if value.startswith("file:"):
            value = url2pathname(urlsplit(value).path)
        included = Path(os.path.normpath(context.path.parent / value))
        destination = self.deps.constraints if constraint else context.target
        self.read_requirements_file(included, destination, context.stack, where)

    def location_requirement(
        self, text: str, source: str, where: str, line: int
    ) -> Requirement | None:
        """A URL, VCS URL, archive or local path requirement (``-e`` or bare)."""
        location, marker = text, ""
        separator = "; " if _is_url(text) else ";"
        if separator in text:
            location, _, marker = text.partition(separator)
        location = location.strip()
        marker = self.check_marker(marker, where, line, f"'{redact_text(location)}'")
        extras: tuple[str, ...] = ()
        match = _TRAILING_EXTRAS_RE.match(location)
        if match and not _is_url(location):
            location = match.group(1)
            extras = _canonical_extras(match.group(2)[1:-1].split(","))
        name = self.location_name(location)
        if name is None or not _VALID_NAME_RE.match(name.partition("[")[0]):
            self.problem(
                where,
                line,
                f"cannot determine the package name of '{redact_text(location)}' (add #egg=<name>)",
            )
            return None
        name, _, egg_extras = name.partition("[")
        if egg_extras:
            extras = _canonical_extras(egg_extras.rstrip("]").split(","))
        return Requirement(
            name=canonicalize_name(name), extras=extras, marker=marker, url=location, source=source
        )

    def location_name(self, location: str) -> str | None:
        fragment = location.partition("#")[2]
        egg = _strip_egg(fragment) if fragment else None
        if egg:
            head = egg.partition("[")[0]
            return egg if _VALID_NAME_RE.match(head) else None
        if _is_url(location) and not location.startswith("file:"):
            url_path = unquote(urlsplit(location).path)
            filename = posixpath.basename(url_path.rstrip("/"))
            archive = _name_from_archive(filename)
            if archive or filename.lower().endswith(_ARCHIVE_SUFFIXES):
                return archive
            if "+" in location.split(":", 1)[0]:  # VCS: the repository name, best effort
                repository = filename.split("@", 1)[0].removesuffix(".git")
                return repository or None
            return None
        if location.startswith("file:"):
            local = url2pathname(urlsplit(location).path)
        else:
            local = location.partition("#")[0]
        filename = posixpath.basename(local.replace("\\", "/").rstrip("/"))
        if filename.lower().endswith(_ARCHIVE_SUFFIXES):
            return _name_from_archive(filename)
        directory = Path(os.path.normpath(self.root / local))
        return self.project_name(directory) or (directory.name or None)

    def project_name(self, directory: Path) -> str | None:
        """``name`` from a local project's pyproject.toml or setup.cfg, if inside the app."""
        try:
            directory.resolve().relative_to(self.real_root)
        except ValueError:
            return None
        loaded = self.load_toml(directory / "pyproject.toml", record=False)
        if loaded is not None:
            data = loaded[0]
            for table in (_table(data, "project"), _table(_table(data, "tool"), "poetry")):
                name = table.get("name")
                if isinstance(name, str) and name.strip():
                    return name.strip()
        text = self.read_text(directory / "setup.cfg", record=False)
        if text is not None:
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            try:
                parser.read_string(text)
            except configparser.Error:
                return None
            name = parser.get("metadata", "name", fallback="").strip()
            return name or None
        return None

    # ---- pyproject.toml -------------------------------------------------------------------

    def read_pyproject(self) -> None:
        loaded = self.load_toml(self.root / "pyproject.toml")
        if loaded is None:
            return
        data, text = loaded
        where = "pyproject.toml"
        project = _table(data, "project")
        if "dependencies" in project:
            section = "[project.dependencies]"
            source = f"{where} {section}"
            entries = project["dependencies"]
            if not isinstance(entries, list):
                self.problem(where, _line_of(text, "dependencies"), f"{section} is not a list")
            else:
                for entry in entries:
                    line = _line_of(text, str(entry))
                    if not isinstance(entry, str):
                        self.problem(where, line, f"{section}: {entry!r} is not a string")
                        continue
                    requirement = self.parse_pep508(entry, source, where, line)
                    if requirement is not None:
                        self.add(self.deps.declared, requirement)
        poetry = _table(_table(data, "tool"), "poetry")
        sections = [("[tool.poetry.dependencies]", poetry.get("dependencies"))]
        main_group = _table(_table(_table(poetry, "group"), "main"), "dependencies")
        if main_group:
            sections.append(("[tool.poetry.group.main.dependencies]", main_group))
        for section, table in sections:
            if table is None:
                continue
            if not isinstance(table, dict):
                self.problem(where, _line_of(text, section), f"{section} is not a table")
                continue
            self.read_poetry_table(table, section, text)

    def read_poetry_table(self, table: dict[str, object], section: str, text: str) -> None:
        where = "pyproject.toml"
        source = f"{where} {section}"
        for key, value in table.items():
            if key.lower() == "python":
                continue
            line = _key_line(text, key, section)
            constraints = value if isinstance(value, list) else [value]
            specifiers: list[str] = []
            markers: list[str] = []
            extras: set[str] = set()
            url = ""
            usable = 0
            for constraint in constraints:
                if isinstance(constraint, str):
                    specifiers.append(constraint.strip())
                    markers.append("")
                    usable += 1
                    continue
                if not isinstance(constraint, dict):
                    self.problem(where, line, f"{section} {key}: unsupported value {constraint!r}")
                    continue
                if constraint.get("optional") is True:
                    continue
                usable += 1
                version = constraint.get("version", "")
                specifiers.append(str(version).strip())
                extras.update(_canonical_extras(constraint.get("extras", [])))
                url = url or _poetry_url(constraint)
                parts = []
                if isinstance(constraint.get("markers"), str):
                    parts.append(str(constraint["markers"]))
                if isinstance(constraint.get("platform"), str):
                    parts.append(f'sys_platform == "{constraint["platform"]}"')
                marker = " and ".join(f"({p})" if len(parts) > 1 else p for p in parts)
                markers.append(self.check_marker(marker, where, line, f"{section} {key}"))
            if not usable:
                continue
            specifier = " || ".join(s for s in specifiers if s and s != "*")
            if "" in markers or not markers:
                marker = ""
            elif len(markers) == 1:
                marker = markers[0]
            else:
                marker = " or ".join(f"({m})" for m in markers)
            requirement = Requirement(
                name=canonicalize_name(key),
                specifier=specifier,
                extras=tuple(sorted(extras)),
                marker=marker,
                url=url,
                source=source,
            )
            self.add(self.deps.declared, requirement)

    # ---- Pipfile --------------------------------------------------------------------------

    def read_pipfile(self) -> None:
        loaded = self.load_toml(self.root / "Pipfile")
        if loaded is None:
            return
        data, text = loaded
        where = "Pipfile"
        packages = data.get("packages")
        if packages is None:
            return
        if not isinstance(packages, dict):
            self.problem(where, _line_of(text, "[packages]"), "[packages] is not a table")
            return
        source = f"{where} [packages]"
        for key, value in packages.items():
            line = _key_line(text, key, "[packages]")
            if isinstance(value, str):
                specifier = "" if value.strip() == "*" else value.strip()
                requirement = Requirement(canonicalize_name(key), specifier, source=source)
            elif isinstance(value, dict):
                version = str(value.get("version", "")).strip()
                parts = []
                if isinstance(value.get("markers"), str):
                    parts.append(str(value["markers"]))
                for variable in sorted(_MARKER_VARIABLES & set(value)):
                    parts.append(f"{variable} {value[variable]}")
                marker = " and ".join(f"({p})" if len(parts) > 1 else p for p in parts)
                requirement = Requirement(
                    name=canonicalize_name(key),
                    specifier="" if version == "*" else version,
                    extras=_canonical_extras(value.get("extras", [])),
                    marker=self.check_marker(marker, where, line, f"[packages] {key}"),
                    url=_pipfile_url(value),
                    source=source,
                )
            else:
                self.problem(where, line, f"[packages] {key}: unsupported value {value!r}")
                continue
            self.add(self.deps.declared, requirement)

    # ---- setup.cfg / setup.py -------------------------------------------------------------

    def read_setup_cfg(self) -> None:
        where = "setup.cfg"
        text = self.read_text(self.root / where)
        if text is None:
            return
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=where)
        except configparser.Error as exc:
            line = getattr(exc, "lineno", None)
            errors = getattr(exc, "errors", None)
            if line is None and errors:
                line = errors[0][0]
            self.problem(where, line, f"cannot parse: {_first_line(exc)}")
            return
        value = parser.get("options", "install_requires", fallback=None)
        if value is None:
            return
        lines = text.splitlines()
        start = 0
        for index, raw in enumerate(lines):
            if re.match(r"\s*install_requires\s*[=:]", raw):
                start = index
                break
        source = f"{where} [options] install_requires"
        for raw_entry in value.splitlines():
            entry = _COMMENT_RE.sub("", raw_entry).strip()
            if not entry or entry.startswith(("#", ";")):
                continue
            line = _line_of("\n".join(lines[start:]), entry)
            line = line + start if line else None
            requirement = self.parse_pep508(entry, source, where, line)
            if requirement is not None:
                self.add(self.deps.declared, requirement)

    def read_setup_py(self) -> None:
        where = "setup.py"
        text = self.read_text(self.root / where)
        if text is None:
            return
        try:
            tree = ast.parse(text, filename=where)
        except SyntaxError as exc:
            self.problem(
                where, exc.lineno, f"syntax error ({exc.msg}); cannot read install_requires"
            )
            return
        except (ValueError, RecursionError, MemoryError) as exc:
            self.problem(where, None, f"cannot parse ({_first_line(exc)}); not read")
            return
        entries = self.setup_py_entries(tree)
        source = f"{where} install_requires"
        for entry, line in entries:
            if not isinstance(entry, str):
                self.problem(
                    where, line, "install_requires entry is computed; cannot read it statically"
                )
                continue
            text = _COMMENT_RE.sub("", entry).strip()
            if text:
                requirement = self.parse_pep508(text, source, where, line)
                if requirement is not None:
                    self.add(self.deps.declared, requirement)

    def setup_py_entries(self, tree: ast.Module) -> list[tuple[object, int]]:
        """``(string or None if computed, line)`` for each ``install_requires`` entry."""
        where = "setup.py"
        call = _find_setup_call(tree)
        if call is None:
            return []
        keyword = next((k for k in call.keywords if k.arg == "install_requires"), None)
        if keyword is None:
            if any(k.arg is None for k in call.keywords):
                self.problem(
                    where,
                    call.lineno,
                    "setup() takes **kwargs; install_requires cannot be read statically",
                )
            return []
        node: ast.expr | None = keyword.value
        if isinstance(node, ast.Name):
            node = _module_literal(tree, node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [(line, node.lineno) for line in node.value.splitlines()]
        if isinstance(node, (ast.List, ast.Tuple)):
            return [
                (elt.value if isinstance(elt, ast.Constant) else None, elt.lineno)
                for elt in node.elts
            ]
        self.problem(
            where, keyword.value.lineno, "install_requires is computed; cannot read it statically"
        )
        return []

    # ---- lock files -----------------------------------------------------------------------

    def read_toml_lock(self, filename: str, skip: Callable[[dict[str, object]], bool]) -> None:
        loaded = self.load_toml(self.root / filename, MAX_LOCK_FILE_BYTES)
        if loaded is None:
            return
        packages = loaded[0].get("package", [])
        if not isinstance(packages, list):
            self.problem(filename, None, "[[package]] is not an array of tables")
            return
        for package in packages:
            if not isinstance(package, dict) or skip(package):
                continue
            name, version = package.get("name"), package.get("version")
            if isinstance(name, str) and isinstance(version, str) and name and version:
                self.deps.locked.setdefault(canonicalize_name(name), version)

    def read_uv_lock(self) -> None:
        def is_root_project(package: dict[str, object]) -> bool:
            source = package.get("source")
            return isinstance(source, dict) and "." in (
                source.get("virtual"),
                source.get("editable"),
            )

        self.read_toml_lock("uv.lock", is_root_project)

    def read_poetry_lock(self) -> None:
        self.read_toml_lock("poetry.lock", lambda package: False)

    def read_pipfile_lock(self) -> None:
        where = "Pipfile.lock"
        text = self.read_text(self.root / where, MAX_LOCK_FILE_BYTES)
        if text is None:
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self.problem(where, exc.lineno, f"invalid JSON: {exc.msg}")
            return
        default = data.get("default") if isinstance(data, dict) else None
        if not isinstance(default, dict):
            self.problem(where, None, 'no "default" section')
            return
        for name, entry in default.items():
            version = entry.get("version") if isinstance(entry, dict) else None
            if isinstance(version, str) and version.strip():
                version = version.strip().removeprefix("==").strip()
                self.deps.locked.setdefault(canonicalize_name(name), version)


# ---- helpers ------------------------------------------------------------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's preprocessing: join ``\\`` continuations, drop comments, skip blank lines."""
    pending: list[str] = []
    first = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        is_comment = bool(_COMMENT_RE.match(physical))
        # A comment ends a continuation (pip); the leading space makes it stripped below.
        line = " " + physical if is_comment else physical
        if not line.endswith("\\") or is_comment:
            if pending:
                pending.append(line)
                joined, pending = "".join(pending), []
                yield from _clean(first, joined)
            else:
                yield from _clean(number, line)
        else:
            if not pending:
                first = number
            pending.append(line[:-1])
    if pending:
        yield from _clean(first, "".join(pending))


def _clean(number: int, line: str) -> Iterator[tuple[int, str]]:
    line = _COMMENT_RE.sub("", line).strip()
    if line:
        yield number, line


def _line_of(text: str, needle: str) -> int | None:
    """1-based number of the first line containing *needle*."""
    if needle:
        for number, line in enumerate(text.splitlines(), start=1):
            if needle in line:
                return number
    return None


def _key_line(text: str, key: str, header: str) -> int | None:
    """1-based line of ``key = ...`` after the ``[header]`` line (anywhere if no header)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == header), 0)
    pattern = re.compile(rf"""^\s*(["']?){re.escape(key)}\1\s*=""")
    for index in range(start, len(lines)):
        if pattern.match(lines[index]):
            return index + 1
    return None


def _table(data: object, key: str) -> dict[str, object]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _vcs_url(base: str, ref: object, subdirectory: object = None) -> str:
    url = base if base.startswith("git+") else f"git+{base}"
    if isinstance(ref, str) and ref:
        url += f"@{ref}"
    if isinstance(subdirectory, str) and subdirectory:
        url += f"#subdirectory={subdirectory}"
    return url


def _poetry_url(table: dict[str, object]) -> str:
    git = table.get("git")
    if isinstance(git, str) and git:
        ref = table.get("rev") or table.get("tag") or table.get("branch")
        return _vcs_url(git, ref, table.get("subdirectory"))
    for key in ("url", "path"):
        value = table.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _pipfile_url(table: dict[str, object]) -> str:
    git = table.get("git")
    if isinstance(git, str) and git:
        return _vcs_url(git, table.get("ref"), table.get("subdirectory"))
    for key in ("file", "path"):
        value = table.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _find_setup_call(tree: ast.Module) -> ast.Call | None:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "setup")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "setup")
        )
    ]
    return min(calls, key=lambda c: (c.lineno, c.col_offset)) if calls else None


def _module_literal(tree: ast.Module, name: str) -> ast.expr | None:
    """The value of ``name = [...]`` if it is the one module-level binding of *name*."""
    values: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    values.append(node.value if node in tree.body else None)
                elif isinstance(target, (ast.Tuple, ast.List)) and any(
                    isinstance(e, ast.Name) and e.id == name for e in target.elts
                ):
                    values.append(None)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            if isinstance(node.target, ast.Name) and node.target.id == name:
                simple = isinstance(node, ast.AnnAssign) and node in tree.body
                values.append(node.value if simple else None)
        elif name in _bound_names(node):
            values.append(None)
    if len(values) != 1 or values[0] is None:
        return None
    value = values[0]
    if isinstance(value, (ast.List, ast.Tuple)) or (
        isinstance(value, ast.Constant) and isinstance(value.value, str)
    ):
        return value
    return None


def _bound_names(node: ast.AST) -> set[str]:
    """Names bound by ``for``, ``with ... as``, ``:=`` and imports."""
    targets: list[ast.AST] = []
    if isinstance(node, ast.For):
        targets = [node.target]
    elif isinstance(node, ast.With):
        targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
    elif isinstance(node, ast.NamedExpr):
        targets = [node.target]
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
