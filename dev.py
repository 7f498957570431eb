#!/usr/bin/env python3
"""Developer entry point; needs only Python 3.10+ (it makes its own virtualenv in .venv).

python3 dev.py demo            build the example app like Heroku would and run it locally
python3 dev.py test [ARGS]     lint, type-check and run the test suite (ARGS go to pytest)
python3 dev.py bench [--quick] run the benchmarks (writes bench/results/)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed"
NO_TESTS_COLLECTED = 5  # pytest's exit code when nothing matched


def _die(message: str) -> None:
    sys.stderr.write(f"dev.py: {message}\n")
    raise SystemExit(1)


def _create_venv() -> None:
    """A virtualenv with pip, also where the system Python lacks ensurepip (Debian)."""
    try:
        venv.create(VENV, with_pip=True)
        return
    except (subprocess.CalledProcessError, OSError):
        pass
    venv.create(VENV, with_pip=False, clear=True)
    bootstrap = [sys.executable, "-m", "pip", "--python", str(PYTHON), "install", "-q", "pip"]
    if subprocess.run(bootstrap, check=False).returncode != 0:
        _die(
            "cannot create a virtualenv with pip: this Python has neither ensurepip nor pip. "
            "Fix (Debian/Ubuntu): sudo apt install python3-venv"
        )


def ensure_venv(extra: str) -> Path:
    """Create .venv if needed and (re)install the project with *extra* when inputs changed."""
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py itself may run on an old python3
        _die(f"Python 3.10+ is required (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"dev.py: creating {VENV} ...", flush=True)
        _create_venv()
    # The .pth is copied into site-packages at install time (not linked): reinstall when it changes.
    inputs = [ROOT / "pyproject.toml", ROOT / "buildpack" / "channels_buildpack.pth"]
    wanted = hashlib.sha256(
        b"".join(p.read_bytes() for p in inputs) + extra.encode() + sys.version.encode()
    ).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print(f"dev.py: installing channels-buildpack[{extra}] into {VENV} ...", flush=True)
        pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[{extra}]"], check=True)
        STAMP.write_text(wanted)
    return PYTHON


def call(*command: str) -> int:
    """Run *command* in the repository; its exit code."""
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def run(*command: str) -> None:
    """Run *command* in the repository; stop with its exit code if it failed."""
    code = call(*command)
    if code:
        raise SystemExit(code)


def cmd_test(args: list[str]) -> None:
    python = str(ensure_venv("test"))
    sources = [p for p in ("buildpack", "tests", "bench", "dev.py") if (ROOT / p).exists()]
    run(python, "-m", "ruff", "check", *sources)
    run(python, "-m", "ruff", "format", "--check", *sources)
    run(python, "-m", "mypy")
    parallel = _parallel(args)
    if not parallel:
        run(python, "-m", "pytest", *args)
        return
    # Tests marked "alone" judge how the OS schedules our processes: other workers' load
    # would decide them, so they run afterwards, by themselves.
    codes = [
        call(python, "-m", "pytest", *parallel, "-m", "not alone", *args),
        call(python, "-m", "pytest", "-m", "alone", *args),
    ]
    failed = [code for code in codes if code not in (0, NO_TESTS_COLLECTED)]
    if failed or all(code == NO_TESTS_COLLECTED for code in codes):
        raise SystemExit(failed[0] if failed else NO_TESTS_COLLECTED)


def _parallel(args: list[str]) -> list[str]:
    """pytest-xdist workers, one per CPU up to 4 (each test module stays on one worker, so
    its fixture apps are built once); none when the caller chose (-n, -p no:xdist, -m) or
    named test files."""
    chose = any(a.startswith(("-n", "--numprocesses", "-m")) or a == "no:xdist" for a in args)
    named = any(a.endswith(".py") or "::" in a or a.startswith("tests") for a in args)
    workers = max(1, min(os.cpu_count() or 1, 4))
    return [] if chose or named or workers == 1 else ["-n", str(workers), "--dist", "loadfile"]


def cmd_demo(args: list[str]) -> None:
    python = str(ensure_venv("test"))
    os.execv(python, [python, "-m", "tests.support.demo", *args])


def cmd_bench(args: list[str]) -> None:
    python = str(ensure_venv("test"))  # the test extra carries the bench tools
    os.execv(python, [python, "-m", "bench", *args])


COMMANDS = {"test": cmd_test, "demo": cmd_demo, "bench": cmd_bench}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        raise SystemExit(2)
    os.chdir(ROOT)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
