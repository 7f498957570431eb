"""Fast, stdlib-only project detection for ``bin/detect``.

Runs under whatever ``python3`` the build image has (possibly old), before heroku/python
installs the app's Python, so: no third-party imports, no modern-only syntax, and it
never reads more than a handful of small files. It only looks a few levels deep and skips
dependency/VCS/virtualenv folders, so a 20,000-file repository costs the same as a tiny one.

Exit codes when run as a script: 0 detected (label on stdout), 100 not detected (reason on
stderr), anything else means "could not decide" and the shell shim falls back to a grep.
Files are read through :mod:`buildpack.core.safefs` (regular files only, bounded, never
blocking); run as a script (``python -I -S detect.py``) it loads that sibling file directly.
"""

from __future__ import annotations

import os
import re
import sys
from types import ModuleType


def _sibling_module(name: str) -> ModuleType:
    """Load ``<name>.py`` from this file's directory (the script case: no package on sys.path)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("_channels_buildpack_" + name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


if __package__:
    from buildpack.core import safefs
else:  # pragma: no cover - bin/detect runs this file as a script
    safefs = _sibling_module("safefs")

CHANNELS = "Django Channels"
DJANGO = "Django"
NOT_DETECTED_EXIT = 100

MANAGE_PY_MAX_DEPTH = 3
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".heroku",
        "__pycache__",
        ".venv",
        "venv",
        "env",
        ".env",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        "bower_components",
        ".cache",
        "staticfiles",
    }
)
DEPENDENCY_FILES = (
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "Pipfile.lock",
    "setup.py",
    "setup.cfg",
    "uv.lock",
    "poetry.lock",
)
MAX_READ = 1024 * 1024

# A distribution name as a whole token: "channels" but not "django-channels-x" or "channels-redis".
_NAME = r"(?<![A-Za-z0-9_.\-]){}(?![A-Za-z0-9_.\-])"
_CHANNELS_DEP = re.compile(_NAME.format(r"(?:channels|daphne|channels[-_.]redis)"), re.I)
_DJANGO_DEP = re.compile(_NAME.format(r"django"), re.I)
_INCLUDE = re.compile(r"(?:^|\s)(?:-r|--requirement)[\s=]+(\S+)", re.M)
# TOML lines that describe a project rather than depend on something (no tomllib fallback).
_METADATA_LINE = re.compile(
    r"^\s*(?:description|summary|keywords|readme|authors|maintainers|license|homepage|"
    r"repository|documentation|classifiers)\s*=",
    re.I,
)
_TOML_FILES = ("pyproject.toml", "Pipfile", "uv.lock", "poetry.lock")
_INLINE_COMMENT = re.compile(r"\s#")
_CHANNELS_CODE = re.compile(
    r"ProtocolTypeRouter|CHANNEL_LAYERS|ASGI_APPLICATION|['\"](?:channels|daphne)['\"]"
)


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def find_manage_py(root: str, max_depth: int = MANAGE_PY_MAX_DEPTH) -> list[str]:
    """Relative paths of ``manage.py`` files, shallowest first, skipping vendored folders."""
    found = []
    level = [root]
    for depth in range(max_depth + 1):
        next_level = []
        for directory in sorted(level):
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.name == "manage.py" and entry.is_file():
                    found.append(os.path.relpath(entry.path, root))
                elif (
                    depth < max_depth
                    and entry.is_dir(follow_symlinks=False)
                    and entry.name not in SKIP_DIRS
                    and not _is_virtualenv(entry.path)
                ):
                    next_level.append(entry.path)
        if found:
            return found
        level = next_level
    return found


def _read(path: str) -> str:
    """The text of a regular file up to MAX_READ; ``""`` for anything else (never blocks)."""
    try:
        return safefs.read_text(path, MAX_READ)
    except (OSError, ValueError):
        return ""


def _toml_names(name: str, data: dict) -> list:  # type: ignore[type-arg]
    """Requirement strings / package names a TOML dependency file declares."""
    if name == "pyproject.toml":
        poetry = data.get("tool", {}).get("poetry", {})
        return list(data.get("project", {}).get("dependencies", [])) + list(
            poetry.get("dependencies", {})
        )
    if name == "Pipfile":
        return list(data.get("packages", {}))
    return [package.get("name", "") for package in data.get("package", [])]


def _toml_dependency_text(name: str, text: str) -> str:
    """Only the dependency part of a TOML file, so a description mentioning 'channels'
    does not count. Without tomllib (Python < 3.11), metadata lines are dropped instead."""
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]

        return "\n".join(str(item) for item in _toml_names(name, tomllib.loads(text)))
    except Exception:
        return "\n".join(line for line in text.splitlines() if not _METADATA_LINE.match(line))


def dependency_text(root: str) -> str:
    """Concatenated text of dependency files (requirements includes followed one level deep)."""
    chunks = []
    for name in DEPENDENCY_FILES:
        text = _read(os.path.join(root, name))
        if name in _TOML_FILES and text:
            text = _toml_dependency_text(name, text)
        chunks.append(text)
        if name == "requirements.txt":
            for include in _INCLUDE.findall(text):
                chunks.append(_read(os.path.join(root, include)))
    return "\n".join(chunks)


def _strip_comments(text: str) -> str:
    return "\n".join(
        _INLINE_COMMENT.split(line, 1)[0]
        for line in text.splitlines()
        if not line.lstrip().startswith("#")
    )


def _project_mentions_channels(root: str, manage_py: str) -> bool:
    """Look for Channels markers in settings/asgi/routing files next to manage.py (2 levels)."""
    base = os.path.join(root, os.path.dirname(manage_py))
    candidates = []
    for current, dirs, files in os.walk(base):
        depth = os.path.relpath(current, base).count(os.sep) + (current != base)
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and depth < 2]
        for name in files:
            if (
                name in ("asgi.py", "routing.py")
                or name.startswith("settings")
                or (os.path.basename(current) == "settings" and name.endswith(".py"))
            ):
                candidates.append(os.path.join(current, name))
    return any(_CHANNELS_CODE.search(_read(path)) for path in candidates[:50])


def detect(root: str) -> tuple[str | None, str]:
    """Return (label, reason): label is ``Django Channels``, ``Django`` or None."""
    manage = find_manage_py(root)
    deps = _strip_comments(dependency_text(root))
    has_django = bool(manage) or bool(_DJANGO_DEP.search(deps))
    if _CHANNELS_DEP.search(deps):
        return CHANNELS, "channels/daphne found in the dependencies"
    if has_django and manage and _project_mentions_channels(root, manage[0]):
        return CHANNELS, "Channels settings or routing found next to " + manage[0]
    if has_django:
        where = manage[0] if manage else "the dependencies"
        return DJANGO, "Django project (" + where + "), no Channels"
    return None, (
        "no manage.py (searched " + str(MANAGE_PY_MAX_DEPTH) + " levels deep) and no Django in "
        "requirements.txt, pyproject.toml, Pipfile or setup.py: not a Django project"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        sys.stderr.write("usage: detect BUILD_DIR\n")
        return 2
    try:
        label, reason = detect(argv[1])
    except Exception as exc:  # pragma: no cover - defensive: shim falls back to grep
        sys.stderr.write("channels-buildpack detect: " + repr(exc) + "\n")
        return 3
    if label is None:
        sys.stderr.write("channels-buildpack: " + reason + "\n")
        return NOT_DETECTED_EXIT
    sys.stdout.write(label + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
