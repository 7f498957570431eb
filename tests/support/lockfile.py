"""``uv.lock``, the one source of the versions we develop, test and ship with.

The development environment is ``uv.lock`` (installed by ``dev.py`` with ``uv sync
--frozen``). The versions the build installs into an app that lacks a package
(``buildpack/core/pins.py``) and the build backend ``[build-system]`` pins are copies of
it, per Python minor version: this module reads them out of the lock and rewrites both files
(``python -m tests.support.lockfile sync``), and the tests compare them with the lock.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from packaging.markers import Marker

from tests.support.paths import REPO

LOCK = REPO / "uv.lock"
PYPROJECT = REPO / "pyproject.toml"
PINS_MODULE = REPO / "buildpack" / "core" / "pins.py"
# The Python minor versions an app can run on (requires-python >= 3.10), oldest first.
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")
BUILD_BACKEND = "hatchling"
PINS_BLOCK = re.compile(
    r"(PINS: dict\[str, tuple\[tuple\[str, str\], \.\.\.\]\] = \{\n)(.*?)(\n\})", re.S
)
BACKEND_PIN = re.compile(r'(requires = \["hatchling==)([^"]+)("\])')

Pins = dict[str, tuple[tuple[str, str], ...]]


def _environment(python: str) -> dict[str, str]:
    """Marker values of a CPython *python* (``"3.12"``) on a Linux dyno."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }


def load(lock: Path = LOCK) -> dict[str, object]:
    """The parsed lock."""
    with lock.open("rb") as file:
        return tomllib.load(file)


def versions(name: str, lock: dict[str, object] | None = None) -> dict[str, str]:
    """Python minor -> the version of *name* the lock installs there (absent: none)."""
    packages = (lock or load())["package"]
    assert isinstance(packages, list)
    found: dict[str, str] = {}
    for package in packages:
        if package["name"] != name or "version" not in package:
            continue
        markers = [Marker(m) for m in package.get("resolution-markers", [])]
        for python in PYTHONS:
            env = _environment(python)
            if not markers or any(m.evaluate(env) for m in markers):
                found.setdefault(python, package["version"])
    return found


def pins_for(name: str, lock: dict[str, object] | None = None) -> tuple[tuple[str, str], ...]:
    """*name*'s pins in ``pins.py`` form: ``(version, oldest Python it applies to)`` runs,
    the newest Python first."""
    by_python = versions(name, lock)
    if not by_python:
        raise LookupError(f"{name} is not in uv.lock: add it to pyproject.toml's test extra")
    runs: list[tuple[str, str]] = []
    for python in PYTHONS:
        version = by_python.get(python)
        if version is None:
            continue
        if runs and runs[-1][0] == version:
            continue
        runs.append((version, python))
    return tuple(reversed(runs))


def expected_pins(names: list[str], lock: dict[str, object] | None = None) -> Pins:
    """The pins ``pins.py`` should hold for *names*, read from the lock."""
    lock = lock or load()
    return {name: pins_for(name, lock) for name in names}


def backend_version(lock: dict[str, object] | None = None) -> str:
    """The build backend's version in the lock (one for every Python)."""
    found = set(versions(BUILD_BACKEND, lock).values())
    if len(found) != 1:
        raise LookupError(f"uv.lock holds {BUILD_BACKEND} {sorted(found)}: expected one version")
    return found.pop()


def render_pins(pins: Pins) -> str:
    """The body of ``PINS = {...}`` in ``pins.py``."""
    lines = []
    for name, runs in pins.items():
        entries = ", ".join(f'("{version}", "{python}")' for version, python in runs)
        lines.append(
            f'    "{name}": ({entries},),' if len(runs) == 1 else f'    "{name}": ({entries}),'
        )
    return "\n".join(lines)


def current_pins() -> Pins:
    """What ``pins.py`` holds now (read, not imported: it may be about to change)."""
    namespace: dict[str, object] = {}
    match = PINS_BLOCK.search(PINS_MODULE.read_text())
    if match is None:
        raise LookupError(f"no PINS block in {PINS_MODULE}")
    exec(f"PINS = {{\n{match.group(2)}\n}}", namespace)
    pins = namespace["PINS"]
    assert isinstance(pins, dict)
    return pins


def sync() -> list[str]:
    """Rewrite ``pins.py`` and the ``[build-system]`` pin from the lock; what changed."""
    lock = load()
    old = current_pins()
    new = expected_pins(list(old), lock)
    changes = [
        f"slug pin {name}: {_describe(old[name])} -> {_describe(new[name])}"
        for name in new
        if new[name] != old[name]
    ]
    text = PINS_MODULE.read_text()
    PINS_MODULE.write_text(
        PINS_BLOCK.sub(lambda m: m.group(1) + render_pins(new) + m.group(3), text)
    )
    backend = backend_version(lock)
    project = PYPROJECT.read_text()
    match = BACKEND_PIN.search(project)
    if match is None:
        raise LookupError(
            f'pyproject.toml: [build-system] requires = ["{BUILD_BACKEND}==..."] not found'
        )
    if match.group(2) != backend:
        changes.append(f"[build-system] {BUILD_BACKEND}: {match.group(2)} -> {backend}")
        PYPROJECT.write_text(BACKEND_PIN.sub(lambda m: m.group(1) + backend + m.group(3), project))
    return changes


def _describe(runs: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{version} (Python {python}+)" for version, python in runs)


def main(argv: list[str]) -> int:
    if argv != ["sync"]:
        sys.stderr.write("usage: python -m tests.support.lockfile sync\n")
        return 2
    changes = sync()
    for line in changes or ["slug pins and [build-system] already match uv.lock"]:
        print(f"dev.py: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
