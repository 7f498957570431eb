"""Installing into the app's Python (``BUILD_DIR/.heroku/python``) during ``bin/compile``.

Two platform details shape this module:

* heroku/python builds in ``/tmp/build_<hash>`` but the slug runs from ``/app``; it links
  ``/app/.heroku/python`` to the build's Python and puts that path on ``PATH``. pip writes
  console-script shebangs from the interpreter path it runs under, so we run pip through that
  run-time path whenever it exists, and only otherwise repair our own script's shebang.
* uv and Poetry apps get no pip in the slug; like heroku/python itself we then run the pip
  wheel that ships inside the standard library's ``ensurepip``.

pip's cache lives in ``CACHE_DIR`` so a build never writes outside BUILD_DIR/CACHE_DIR.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack import __version__, log

RUNTIME_PYTHON_LINKS = ("/app/.heroku/python/bin/python",)
RUNTIME_DEPENDENCIES = ("packaging>=23", "dj-database-url>=2.1")
# Makes the web process faster when present (Daphne's reactor and uvicorn run on it; see
# runtime/launchers/speedups.py). Binary wheels only, best effort: a Python that has no
# uvloop wheel yet still builds, and the web process runs on the stock asyncio loop.
OPTIONAL_DEPENDENCIES = ("uvloop>=0.19; sys_platform != 'win32'",)
TOMLI = "tomli>=2.0"
DIGEST_MARKER = "_installed_from"
_NAME_END = re.compile(r"[<>=!~;\s\[]")  # where a requirement's project name ends
PASS_THROUGH_PIP_VARS = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
)


class InstallError(Exception):
    """pip failed for *what* (pip's output has been printed to the build log)."""

    def __init__(self, what: str, code: int | str) -> None:
        super().__init__(f"{what}: {code}")
        self.what = what
        self.code = code


@dataclass(frozen=True)
class AppPython:
    """The app's interpreter: where it is during the build, and the path pip should run as."""

    build_path: Path
    pip_python: str
    runtime_valid: bool

    @property
    def prefix(self) -> Path:
        return self.build_path.parent.parent


def find_app_python(build_dir: Path, path_env: str | None = None) -> AppPython | None:
    """Locate ``.heroku/python`` and the best path to run pip with (see module docstring)."""
    build_path = build_dir / ".heroku" / "python" / "bin" / "python"
    if not build_path.exists():
        return None
    target = build_path.parent.parent.resolve()
    search = list(RUNTIME_PYTHON_LINKS)
    search += [str(Path(d) / "python") for d in (path_env or "").split(os.pathsep) if d]
    build_roots = (build_dir.absolute(), build_dir.resolve())
    for candidate in search:
        path = Path(candidate)
        if not path.exists() or any(path.is_relative_to(root) for root in build_roots):
            continue  # the build's own bin (under either spelling of BUILD_DIR) is no run-time path
        if path.parent.parent.resolve() == target:
            return AppPython(build_path, str(path), True)
    return AppPython(build_path, str(build_path), False)


def _pip_base(app: AppPython) -> list[str]:
    check = subprocess.run(
        [app.pip_python, "-m", "pip", "--version"], capture_output=True, text=True, check=False
    )
    if check.returncode == 0:
        return [app.pip_python, "-m", "pip"]
    bundled = subprocess.run(
        [
            app.pip_python,
            "-c",
            "import ensurepip, glob, os; "
            "print(sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "
            "'_bundled', 'pip-*.whl')))[-1])",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    wheel = bundled.stdout.strip()
    if bundled.returncode != 0 or not wheel:
        detail = (check.stderr or bundled.stderr).strip().splitlines() or ["no pip module"]
        raise InstallError("pip", detail[-1])
    return [app.pip_python, f"{wheel}/pip"]


def _pip_env(cache_dir: Path, config_vars: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: config_vars[k] for k in PASS_THROUGH_PIP_VARS if config_vars.get(k)})
    env["PIP_CACHE_DIR"] = str(cache_dir / "channels-buildpack" / "pip")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.pop("PYTHONPATH", None)  # pip must see the app's site-packages only
    return env


def _run_pip(base: list[str], args: Sequence[str], env: Mapping[str, str], what: str) -> None:
    result = subprocess.run(
        [*base, *args], env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        log.detail(output[-6000:])
        raise InstallError(what, result.returncode)


def _source_digest(bp_dir: Path) -> str:
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
    wheel_dir = cache_dir / "channels-buildpack" / "wheels" / _source_digest(bp_dir)
    existing = sorted(wheel_dir.glob("channels_buildpack-*.whl"))
    if existing:
        return existing[-1]
    base = _pip_base(app)
    with tempfile.TemporaryDirectory(prefix="cbp-wheel-") as tmp:
        args = ["wheel", "--no-deps", "-q", "-w", tmp, str(bp_dir)]
        _run_pip(base, args, env, "channels-buildpack")
        built = sorted(Path(tmp).glob("channels_buildpack-*.whl"))
        if not built:
            raise InstallError("channels-buildpack", "no wheel built")
        wheel_dir.mkdir(parents=True, exist_ok=True)
        target = wheel_dir / built[-1].name
        shutil.copy2(built[-1], target)
    return target


def install(
    app: AppPython, requirements: Sequence[str], cache_dir: Path, config_vars: Mapping[str, str]
) -> None:
    """``pip install`` *requirements* (paths or specifiers) into the app's Python."""
    env = _pip_env(cache_dir, config_vars)
    _run_pip(_pip_base(app), ["install", "-q", *requirements], env, ", ".join(requirements))


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


def _missing(requirements: Sequence[str]) -> list[str]:
    return [r for r in requirements if not is_installed(_NAME_END.split(r, maxsplit=1)[0])]


def _installed_marker() -> Path | None:
    """Where the installed copy records which buildpack source it came from."""
    try:
        dist = importlib.metadata.distribution("channels-buildpack")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(f"buildpack/{DIGEST_MARKER}")))


def install_runtime(
    app: AppPython, bp_dir: Path, cache_dir: Path, config_vars: Mapping[str, str]
) -> bool:
    """Install channels-buildpack (and its small deps) into the app's Python.

    One pip run at most; none when the slug's Python (restored from heroku/python's
    cache on a repeat deploy) already holds this exact buildpack source. Returns whether
    anything was installed.
    """
    digest = _source_digest(bp_dir)
    marker = _installed_marker()
    missing = _missing(runtime_dependencies())
    env = _pip_env(cache_dir, config_vars)
    optional = _install_optional(app, env)
    if marker is not None and marker.is_file() and marker.read_text() == digest and not missing:
        return optional
    wheel = runtime_wheel(bp_dir, cache_dir, app, env)
    command = ["install", "-q", "--force-reinstall", "--no-deps", str(wheel), *missing]
    _run_pip(_pip_base(app), command, env, "channels-buildpack")
    if not app.runtime_valid:
        relocate_scripts(app, ["channels-buildpack"])
    importlib.invalidate_caches()
    marker = _installed_marker()
    if marker is not None and marker.parent.is_dir():
        marker.write_text(digest)
    return True


def _install_optional(app: AppPython, env: Mapping[str, str]) -> bool:
    """Install the missing :data:`OPTIONAL_DEPENDENCIES` from binary wheels; a failure is
    one line in the build log, not a failed build. Returns whether anything was installed."""
    missing = _missing(OPTIONAL_DEPENDENCIES)  # pip skips those whose marker does not apply
    if not missing:
        return False
    command = [*_pip_base(app), "install", "-q", "--only-binary", ":all:", *missing]
    result = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        names = ", ".join(_NAME_END.split(r, maxsplit=1)[0] for r in missing)
        log.detail(f"{names}: no binary wheel for this Python; the web process runs without it")
        return False
    return True


def relocate_scripts(app: AppPython, names: Sequence[str]) -> None:
    """Point console scripts pip wrote with a build-directory shebang at ``python3`` on PATH."""
    bin_dir = app.build_path.parent
    build_python = str(app.build_path)
    for name in names:
        script = bin_dir / name
        if not script.is_file():
            continue
        text = script.read_text(encoding="utf-8", errors="replace")
        first, _, rest = text.partition("\n")
        if first.startswith("#!") and build_python in first:
            script.write_text("#!/usr/bin/env python3\n" + rest, encoding="utf-8")


def python_version(app: AppPython) -> tuple[int, int, int]:
    """The app's Python version (this process runs as the app's Python during compile)."""
    if Path(sys.executable).resolve() == app.build_path.resolve():
        return sys.version_info[:3]
    out = subprocess.run(
        [str(app.build_path), "-c", "import sys; print(*sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    major, minor, micro = (int(x) for x in out)
    return major, minor, micro
