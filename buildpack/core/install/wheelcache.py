"""Wheels of our runtime's pinned dependencies, kept in the build cache (Cloud Native
Buildpacks: our ``cache`` layer), so a build after an earlier one installs them from files:
no index look-up, no download, one pip run.

A directory per interpreter (implementation, Python minor version, machine), filled by
``pip download --only-binary :all:``: a wheel found there was chosen by pip for this very
interpreter. Requirements are exact pins (``name==version``, :mod:`buildpack.core.pins`).
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path


def directory(cache_dir: Path) -> Path:
    """The wheel directory of this interpreter (the build runs as the app's Python)."""
    tag = f"{sys.implementation.cache_tag}-{platform.machine() or 'unknown'}"
    return cache_dir / "channels-buildpack" / "dependency-wheels" / tag


def _normal(name: str) -> str:
    """A project name as wheel file names spell it (PEP 427 / PEP 503 normalised)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def find(folder: Path, requirement: str) -> Path | None:
    """The cached wheel of a ``name==version`` requirement, if any."""
    name, sep, version = requirement.split(";", maxsplit=1)[0].strip().partition("==")
    if not sep:
        return None
    prefix = f"{_normal(name)}-{version.strip()}-"
    found = sorted(p for p in folder.glob("*.whl") if p.name.lower().startswith(prefix.lower()))
    return found[-1] if found else None


def find_all(folder: Path, requirements: Sequence[str]) -> list[Path] | None:
    """Every requirement's cached wheel, or None when one is missing."""
    files = [find(folder, r) for r in requirements]
    return None if any(f is None for f in files) else [f for f in files if f is not None]


def missing(folder: Path, requirements: Sequence[str]) -> list[str]:
    """The requirements without a cached wheel."""
    return [r for r in requirements if find(folder, r) is None]
