"""Our runtime as a package for the app: the wheel built from this checkout, and what it
needs in the app's Python.

Both platforms install the same wheel (:func:`runtime_wheel`, built once per buildpack source
and kept in the build cache) and the same requirements: :data:`RUNTIME_DEPENDENCIES` (what
the app lacks or has too old, at its pin from :mod:`buildpack.core.pins`) and, best effort
from binary wheels, :data:`OPTIONAL_DEPENDENCIES`. Where they go is the platform's step:
:mod:`.classic` (the app's Python) or :mod:`.cnb` (a layer of our own).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from buildpack import __version__, log
from buildpack.core import pins
from buildpack.core.install import runner
from buildpack.core.install.runner import AppPython, InstallError

# What our runtime accepts when the app already has it (mirrors pyproject.toml); a missing
# or older one is installed at its pin (pins.py, a copy of uv.lock).
RUNTIME_DEPENDENCIES = ("packaging>=23", "dj-database-url>=2.1")

# Makes the web process faster when present (Daphne's reactor and uvicorn run on it; see
# runtime/web/speedups.py). Binary wheels only, best effort: a Python that has no
# uvloop wheel yet still builds, and the web process runs on the stock asyncio loop.
OPTIONAL_DEPENDENCIES = ("uvloop>=0.19; sys_platform != 'win32'",)
TOMLI = "tomli>=2.0"


def source_digest(bp_dir: Path) -> str:
    """A short hash of this buildpack's source: a cached install of it is reused only if equal."""
    digest = hashlib.sha256(__version__.encode())
    files = [bp_dir / "pyproject.toml", bp_dir / "Procfile.template"]
    files += sorted((bp_dir / "buildpack").rglob("*.py")) + sorted((bp_dir / "templates").glob("*"))
    files.append(bp_dir / "buildpack" / "channels_buildpack.pth")
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(bp_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def runtime_wheel(bp_dir: Path, cache_dir: Path, app: AppPython, env: Mapping[str, str]) -> Path:
    """Our runtime as a wheel, built once per buildpack version and kept in CACHE_DIR."""
    wheel_dir = cache_dir / "channels-buildpack" / "wheels" / source_digest(bp_dir)
    existing = sorted(wheel_dir.glob("channels_buildpack-*.whl"))
    if existing:
        return existing[-1]
    base = runner.pip_command(app)
    with tempfile.TemporaryDirectory(prefix="cbp-wheel-") as tmp:
        args = ["wheel", "--no-deps", "-q", "-w", tmp, str(bp_dir)]
        runner.run_pip(base, args, env, "channels-buildpack")
        built = sorted(Path(tmp).glob("channels_buildpack-*.whl"))
        if not built:
            raise InstallError("channels-buildpack", "no wheel built")
        wheel_dir.mkdir(parents=True, exist_ok=True)
        target = wheel_dir / built[-1].name
        shutil.copy2(built[-1], target)
    return target


def installed_distributions() -> list[str]:
    """``name==version`` of every distribution this Python has, sorted (a cache key)."""
    found = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    return sorted(found)


def runtime_dependencies() -> list[str]:
    """Our own runtime requirements (mirrors pyproject.toml; a test keeps them equal)."""
    wanted = list(RUNTIME_DEPENDENCIES)
    if sys.version_info < (3, 11):
        wanted.append(TOMLI)
    return wanted


def is_installed(name: str) -> bool:
    """Whether distribution *name* is installed in this Python."""
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def missing_runtime_dependencies() -> list[str]:
    """Our runtime requirements the app's Python lacks, or has older than our minimum, pinned.

    Runs before ``packaging`` is importable (it is one of them), so the check is the one
    our requirements need: ``name>=X.Y`` against the installed release numbers.
    """
    return [pins.pinned(project_name(r)) for r in runtime_dependencies() if not satisfied(r)]


def project_name(requirement: str) -> str:
    """The project name of a ``name>=X``, ``name==X`` or ``name; marker`` requirement."""
    return re.split(r"[<>=!~;\s]", requirement, maxsplit=1)[0]


def project_names(requirements: Sequence[str]) -> list[str]:
    """The project names of requirements."""
    return [project_name(r) for r in requirements]


def satisfied(requirement: str) -> bool:
    name, _, minimum = requirement.partition(">=")
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return release_numbers(installed) >= release_numbers(minimum.split(";")[0]) if minimum else True


def release_numbers(version: str) -> tuple[int, ...]:
    """The leading release numbers of a version (``"23.2.post1"`` -> ``(23, 2)``)."""
    numbers = []
    for part in version.strip().split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        numbers.append(int(digits.group()))
        if digits.group() != part:
            break
    return tuple(numbers)


def missing_optional_dependencies() -> list[str]:
    """The :data:`OPTIONAL_DEPENDENCIES` that apply here and are not installed, pinned."""
    return [
        pins.pinned(project_name(r))
        for r in OPTIONAL_DEPENDENCIES
        if applies_here(r) and not satisfied(r)
    ]


def applies_here(requirement: str) -> bool:
    """Whether a requirement's ``sys_platform`` marker (the only one we use) holds here."""
    _, _, marker = requirement.partition(";")
    return "win32" not in marker or sys.platform != "win32"


def from_binary_wheels(requirements: Sequence[str]) -> list[str]:
    """pip arguments adding *requirements*, taken from binary wheels only (others as usual)."""
    return ["--only-binary", ",".join(project_names(requirements)), *requirements]


def install_with_optional(
    app: AppPython, command: list[str], env: Mapping[str, str], what: str
) -> None:
    """Run pip *command* with the missing optional packages added (one pip start-up less
    on a first build); if that fails, without them, and say so in the build log."""
    optional = missing_optional_dependencies()
    base = runner.pip_command(app)  # a Python start-up of its own: once
    if (
        optional
        and runner.run_python([*base, *command, *from_binary_wheels(optional)], env).returncode == 0
    ):
        return
    runner.run_pip(base, command, env, what)
    if optional:  # our runtime installed alone: the optional packages were the problem
        say_optional_missing(optional)


def say_optional_missing(requirements: Sequence[str]) -> None:
    names = ", ".join(project_names(requirements))
    log.detail(f"{names}: no binary wheel for this Python; the web process runs without it")
