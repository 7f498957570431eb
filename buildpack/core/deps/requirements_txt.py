"""``requirements.txt``: pip's format, with ``-r``/``-c`` includes, editables, URLs and paths."""

from __future__ import annotations

import configparser
import os
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from buildpack.core.deps.common import (
    COMMENT_RE,
    DependencyReader,
    Requirement,
    canonical_extras,
    echo,
    real_path,
    subtable,
)
from buildpack.redact import redact_url

# ``-r`` / ``-c`` nesting deeper than this is reported, not followed.
MAX_INCLUDE_DEPTH = 10

_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_NAMED_URL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*\s*(\[[^\]]*\])?\s*@")
_TRAILING_EXTRAS_RE = re.compile(r"^(.+?)(\[[^\]]*\])$")
_VALID_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
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


class RequirementsReader(DependencyReader):
    """Reads ``requirements.txt`` and the files it includes."""

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
        real = real_path(path)
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
        marker = self.check_marker(marker, where, line, f"'{echo(location)}'")
        extras: tuple[str, ...] = ()
        match = _TRAILING_EXTRAS_RE.match(location)
        if match and not _is_url(location):
            location = match.group(1)
            extras = canonical_extras(match.group(2)[1:-1].split(","))
        name = self.location_name(location)
        if name is None or not _VALID_NAME_RE.match(name.partition("[")[0]):
            self.problem(
                where,
                line,
                f"cannot determine the package name of '{echo(location)}' (add #egg=<name>)",
            )
            return None
        name, _, egg_extras = name.partition("[")
        if egg_extras:
            extras = canonical_extras(egg_extras.rstrip("]").split(","))
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
            real_path(directory).relative_to(self.real_root)
        except ValueError:
            return None
        loaded = self.load_toml(directory / "pyproject.toml", record=False)
        if loaded is not None:
            data = loaded[0]
            for table in (subtable(data, "project"), subtable(subtable(data, "tool"), "poetry")):
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


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """pip's preprocessing: join ``\\`` continuations, drop comments, skip blank lines."""
    pending: list[str] = []
    first = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        is_comment = bool(COMMENT_RE.match(physical))
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
    line = COMMENT_RE.sub("", line).strip()
    if line:
        yield number, line
