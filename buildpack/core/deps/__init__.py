"""Which Python packages does the app declare? Read statically, never by running user code.

Reads ``requirements.txt`` (and the files it includes), ``pyproject.toml`` (PEP 621 and Poetry),
``Pipfile``, ``setup.cfg``, ``setup.py`` (with :mod:`ast`, never executed) and the lock files
``uv.lock``, ``poetry.lock`` and ``Pipfile.lock``.  Malformed content never raises: every
difficulty becomes a human-readable entry in :attr:`Dependencies.problems`.

Every declaration file present is read, the one of the package manager heroku/python would use
first, so its declaration of a package wins over the others.

One reader module per format (``requirements_txt``, ``pyproject``, ``pipfile``, ``locks``,
``setup_files``) over the shared plumbing and result types in ``common``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from buildpack.core.deps.common import (
    IMPLIED_EXTRAS,
    MAX_FILE_BYTES,
    MAX_LOCK_FILE_BYTES,
    Dependencies,
    Requirement,
)
from buildpack.core.deps.locks import LockReader
from buildpack.core.deps.pipfile import PipfileReader
from buildpack.core.deps.pyproject import PyprojectReader
from buildpack.core.deps.requirements_txt import MAX_INCLUDE_DEPTH, RequirementsReader
from buildpack.core.deps.setup_files import SetupReader

__all__ = [
    "IMPLIED_EXTRAS",
    "MAX_FILE_BYTES",
    "MAX_INCLUDE_DEPTH",
    "MAX_LOCK_FILE_BYTES",
    "Dependencies",
    "Requirement",
    "read_dependencies",
]


# Which tool heroku/python installs with, by precedence, and the files that select it.
_MANAGER_FILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("uv", ("uv.lock",)),
    ("poetry", ("poetry.lock",)),
    ("pipenv", ("Pipfile.lock", "Pipfile")),
    ("pip", ("requirements.txt",)),
    ("setup.py", ("setup.py", "setup.cfg")),
    ("pyproject", ("pyproject.toml",)),
)


# The file each declaration reader reads, for problems it cannot place more precisely.
_FILES = {"pip": "requirements.txt", "pyproject": "pyproject.toml", "pipenv": "Pipfile"}


class _Reader(RequirementsReader, PyprojectReader, PipfileReader, SetupReader, LockReader):
    """Every format's reader over one shared :class:`Dependencies`."""


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
        reader.guarded(_FILES.get(key, key), declaration_readers[key])
    reader.guarded("uv.lock", reader.read_uv_lock)
    reader.guarded("poetry.lock", reader.read_poetry_lock)
    reader.guarded("Pipfile.lock", reader.read_pipfile_lock)
    return deps


def _detect_manager(root: Path) -> str:
    """The tool heroku/python would install with, by its precedence."""

    for manager, filenames in _MANAGER_FILES:
        if any(_is_file(root / filename) for filename in filenames):
            return manager
    return "none"


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
