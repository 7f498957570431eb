"""Running pip for the app's Python: the one way the build starts pip.

uv and Poetry apps get no pip in the slug, and heroku/python's CNB keeps pip out of its venv
(a ``--user`` install in a layer of its own): :mod:`.pipfind` finds the pip each platform
provides, and falls back to the wheel of ``ensurepip``; it is looked up once per build.

pip's cache lives in ``CACHE_DIR`` so a build never writes outside BUILD_DIR/CACHE_DIR.
Every Python we start here runs isolated (``-I``) from a neutral working directory, so
neither the repository (a ``typing.py`` or ``pip/`` at its root) nor PYTHONPATH is on its
``sys.path``. A failed pip run raises :class:`InstallError` (pip's output is in the build
log); :mod:`buildpack.core.build` says what it means.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack import log, messages
from buildpack.core.install import pipfind

PASS_THROUGH_PIP_VARS = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
)

# Set by Python buildpacks for their own pip runs (heroku/python's CNB: PIP_PYTHON=<venv>,
# which would make pip start itself again under that interpreter, without -I); ours choose
# the interpreter and the target themselves.
REPLACED_PIP_VARS = ("PIP_PYTHON", "PIP_USER", "PIP_PREFIX", "PIP_TARGET", "PIP_ROOT")

# -I: isolated mode (no working directory or PYTHON* variables on sys.path). Python 3.4+.
# -B: no bytecode caches written where the child imports from (another buildpack's layers).
ISOLATED = pipfind.ISOLATED

# Where our child Pythons run: never the repository.
NEUTRAL_CWD = pipfind.NEUTRAL_CWD


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


def run_python(
    args: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Python command line isolated, from :data:`NEUTRAL_CWD`, output captured."""
    return subprocess.run(
        list(args),
        env=None if env is None else dict(env),
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        check=False,
    )


_pip_commands: dict[str, list[str]] = {}


def pip_command(app: AppPython) -> list[str]:
    """How pip runs for the app's Python (:mod:`buildpack.core.install.pipfind`), looked up once."""
    if app.pip_python not in _pip_commands:
        try:
            command = pipfind.find_pip(app.pip_python)
        except pipfind.PipNotFound as exc:
            raise InstallError("pip", str(exc)) from exc
        log.detail(messages.PIP_FOUND.format(where=pipfind.describe(command)))
        _pip_commands[app.pip_python] = command
    return _pip_commands[app.pip_python]


def pip_env(cache_dir: Path, config_vars: Mapping[str, str]) -> dict[str, str]:
    """pip's environment: our cache, no prompts, the index settings among the config vars."""
    env = dict(os.environ)
    env.update(
        {
            name: config_vars[name]
            for name in PASS_THROUGH_PIP_VARS
            if config_vars.get(name) and "\0" not in config_vars[name]  # NUL: no env value
        }
    )
    env["PIP_CACHE_DIR"] = str(cache_dir / "channels-buildpack" / "pip")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # pip's own children (build isolation) are not -B
    env.pop("PYTHONPATH", None)  # pip must see the app's site-packages only
    for name in REPLACED_PIP_VARS:
        env.pop(name, None)
    return env


def run_pip(base: list[str], args: Sequence[str], env: Mapping[str, str], what: str) -> None:
    result = run_python([*base, *args], env)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        log.detail(output[-6000:])
        raise InstallError(what, result.returncode)


def install(
    app: AppPython, requirements: Sequence[str], cache_dir: Path, config_vars: Mapping[str, str]
) -> None:
    """``pip install`` *requirements* (paths or specifiers) into the app's Python."""
    env = pip_env(cache_dir, config_vars)
    run_pip(pip_command(app), ["install", "-q", *requirements], env, ", ".join(requirements))


def display(requirement: str) -> str:
    return Path(requirement).name if requirement.endswith(".whl") else requirement


def python_version(app: AppPython) -> tuple[int, int, int]:
    """The app's Python version (this process runs as the app's Python during compile)."""
    if Path(sys.executable).resolve() == app.build_path.resolve():
        return sys.version_info[:3]
    probe = run_python(
        [str(app.build_path), ISOLATED, "-c", "import sys; print(*sys.version_info[:3])"]
    )
    probe.check_returncode()
    out = probe.stdout.split()
    major, minor, micro = (int(x) for x in out)
    return major, minor, micro
