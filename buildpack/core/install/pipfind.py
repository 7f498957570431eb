"""Which pip the build runs, for the app's Python, without ever importing from the repository.

Python buildpacks provide pip in different places, so we look where each one puts it:

1. the app's environment itself (``python -m pip``): classic heroku/python's
   ``.heroku/python``, a venv made with pip;
2. the user site of ``PYTHONUSERBASE``: heroku/python's CNB makes its venv ``--without-pip``
   and installs pip with ``--user`` into a ``pip`` layer of its own;
3. the ``pip`` (or ``pip3``) command on ``PATH``, for buildpacks that put pip elsewhere;
4. the pip wheel that comes with the interpreter's ``ensurepip`` (``ensurepip/_bundled``,
   or the distribution's wheel directory, e.g. Debian's ``/usr/share/python-wheels``).

Every candidate runs as ``python -IB <pip package dir>`` (or ``-m pip`` for the first): the
isolated mode keeps the working directory and ``PYTHONPATH`` off ``sys.path``; pip's
``__main__`` puts only the directory holding the pip package in front. The search runs
once per build; in the CNB build (which runs as the app's Python) it starts no process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

ISOLATED = "-IB"
NEUTRAL_CWD = Path(os.sep)
# Run by the app's Python when it is not this interpreter: the facts the search needs.
PROBE = (
    "import glob, importlib.util, json, os, sys, sysconfig\n"
    "print(json.dumps({'module': importlib.util.find_spec('pip') is not None,"
    " 'version': '%d.%d' % sys.version_info[:2],"
    " 'wheels': sorted(glob.glob(os.path.join(sysconfig.get_path('stdlib'), 'ensurepip',"
    " '_bundled', 'pip-*.whl')) + glob.glob(os.path.join("
    "sysconfig.get_config_var('WHEEL_PKG_DIR') or '/nonexistent', 'pip-*.whl')))}))"
)


class PipNotFound(Exception):
    """No pip for the app's Python; the message lists where we looked."""


def _facts_here() -> dict[str, object]:
    """What :data:`PROBE` prints, for this interpreter (the same code, in-process)."""
    bundled = Path(sysconfig.get_path("stdlib")) / "ensurepip" / "_bundled"
    wheel_dir = Path(sysconfig.get_config_var("WHEEL_PKG_DIR") or "/nonexistent")
    return {
        "module": importlib.util.find_spec("pip") is not None,
        "version": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "wheels": [str(p) for d in (bundled, wheel_dir) for p in sorted(d.glob("pip-*.whl"))],
    }


def _is_this_interpreter(python: str) -> bool:
    """Whether *python* runs with this process's environment (same prefix, same binary)."""
    path = Path(python)
    try:
        same_binary = path.resolve() == Path(sys.executable).resolve()
        return same_binary and path.parent.parent.resolve() == Path(sys.prefix).resolve()
    except OSError:
        return False


def _facts(python: str) -> dict[str, object]:
    if _is_this_interpreter(python):
        return _facts_here()
    result = subprocess.run(
        [python, ISOLATED, "-c", PROBE],
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        raise PipNotFound(f"{python} does not start: {detail}")
    facts: dict[str, object] = json.loads(result.stdout)
    return facts


def _user_site_pip(version: str, environ: dict[str, str]) -> Path | None:
    """pip installed with ``--user`` under ``PYTHONUSERBASE`` (heroku/python's CNB)."""
    base = environ.get("PYTHONUSERBASE", "")
    if not base:
        return None
    for site in sorted(Path(base).glob(f"lib/python{version}*/site-packages")):
        if (site / "pip" / "__main__.py").is_file():
            return site / "pip"
    return None


def _path_pip(environ: dict[str, str]) -> Path | None:
    """The package directory of the ``pip`` command on PATH, from ``pip --version``."""
    for name in ("pip", "pip3"):
        command = shutil.which(name, path=environ.get("PATH"))
        if command is None:
            continue
        result = subprocess.run(
            [command, "--version"],
            cwd=NEUTRAL_CWD,
            env={**environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        words = result.stdout.split(" from ", 1)
        if result.returncode == 0 and len(words) == 2:
            location = Path(words[1].rsplit(" (python", 1)[0].strip())
            if (location / "__main__.py").is_file():
                return location
    return None


def find_pip(python: str, environ: dict[str, str] | None = None) -> list[str]:
    """The command prefix that runs pip for *python* (see the module docstring)."""
    env = dict(os.environ if environ is None else environ)
    facts = _facts(python)
    if facts["module"]:
        return [python, ISOLATED, "-m", "pip"]
    version = str(facts["version"])
    package = _user_site_pip(version, env) or _path_pip(env)
    if package is not None:
        return [python, ISOLATED, str(package)]
    wheels = facts["wheels"]
    if isinstance(wheels, list) and wheels:
        return [python, ISOLATED, f"{sorted(wheels, key=_wheel_version)[-1]}/pip"]
    raise PipNotFound(
        f"{python} has no pip module, PYTHONUSERBASE and PATH hold no pip for Python "
        f"{version}, and its ensurepip has no pip wheel"
    )


def _wheel_version(wheel: object) -> tuple[int, ...]:
    """``pip-25.3-py3-none-any.whl`` -> ``(25, 3)`` (the newest wheel wins)."""
    version = Path(str(wheel)).name.split("-")[1]
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def describe(command: Sequence[str]) -> str:
    """Where a :func:`find_pip` command takes pip from, for the build log."""
    if command[-2:] == ["-m", "pip"]:
        return "the app's environment"
    return str(Path(command[-1]).parent)
