#!/usr/bin/env python3
"""Developer entry point; needs only Python 3.10+ (it makes its own virtualenv in .venv).

python3 dev.py demo             build the example app like Heroku would and run it locally
python3 dev.py test [ARGS]      lint, type-check and run the test suite (ARGS go to pytest)
python3 dev.py test --python X.Y [--subset NAME] [ARGS]
                                the suite (or a subset: smoke, build, launchers, layers) on
                                Python X.Y: 3.13 and 3.14 in a Debian root made on first use
                                (trixie, sid; needs root), others from this machine (pyenv)
python3 dev.py bench [--quick]  run the benchmarks (writes bench/results/)
python3 dev.py lock [--upgrade] re-lock (--upgrade: to the newest releases as of now), then copy
                                the lock's versions into the slug pins; prints what changed
python3 dev.py outdated         list releases newer than the lock's, changing nothing

Every command first makes .venv exactly uv.lock (``uv sync --frozen``: no resolution, and
nothing at all while the lock and the venv are unchanged), so a clone tests what the lock
says, today or a year from now.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# ``dev.py test --python X.Y`` sets LEG_VAR for itself and its children (pytest, the tests'
# own ``import dev``): that leg's environment is .venv-X.Y, made from the same lock.
LEG_VAR = "DEV_PYTHON_LEG"
LEG = os.environ.get(LEG_VAR, "")
VENV = ROOT / (f".venv-{LEG}" if LEG else ".venv")
PYTHON = VENV / "bin" / "python"
UV = VENV / "bin" / "uv"
STAMP = VENV / ".installed"
LOCK = ROOT / "uv.lock"
PYPROJECT = ROOT / "pyproject.toml"
EXTRAS = ("test",)  # the demo, the tests and the bench all run the test extra
# The lock's date (pyproject.toml [tool.uv] exclude-newer): what the index looked like then.
EXCLUDE_NEWER = re.compile(r'^(exclude-newer = ")([^"]+)(")$', re.M)
# The package indexes the tests' own installs see (fixture apps, slugs) stop at that date too.
INDEX_DATE_VARS = ("UV_EXCLUDE_NEWER", "PIP_UPLOADED_PRIOR_TO")
NO_TESTS_COLLECTED = 5  # pytest's exit code when nothing matched


def _die(message: str) -> None:
    sys.stderr.write(f"dev.py: {message}\n")
    raise SystemExit(1)


def locked(name: str) -> tuple[str, list[str]]:
    """*name*'s version and file hashes in uv.lock (read as text: Python 3.10 has no tomllib)."""
    text = LOCK.read_text(encoding="utf-8")
    entry = re.compile(
        rf'^\[\[package\]\]\nname = "{re.escape(name)}"\nversion = "([^"]+)"\n', re.M
    )
    match = entry.search(text)
    if match is None:
        _die(f"uv.lock holds no {name}: add it to pyproject.toml's test extra, then dev.py lock.")
    end = text.find("\n[[package]]", match.end())
    block = text[match.end() : end if end != -1 else len(text)]
    return match.group(1), re.findall(r'hash = "(sha256:[0-9a-f]+)"', block)


def _pip_install_locked(pip: list[str], name: str) -> None:
    """``pip install`` the lock's *name*, its download checked against the lock's hashes."""
    version, hashes = locked(name)
    with tempfile.TemporaryDirectory(prefix="dev-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        options = " ".join(f"--hash={digest}" for digest in hashes)
        requirements.write_text(f"{name}=={version} {options}\n", encoding="utf-8")
        command = [*pip, "install", "-q", "--require-hashes", "--no-deps", "-r", str(requirements)]
        if subprocess.run(command, check=False).returncode != 0:
            _die(f"cannot install {name} {version} from the package index (pip's output above).")


def _create_venv() -> None:
    """A virtualenv with pip, also where the system Python lacks ensurepip (Debian)."""
    try:
        venv.create(VENV, with_pip=True)
        return
    except (subprocess.CalledProcessError, OSError):
        pass
    venv.create(VENV, with_pip=False, clear=True)
    probe = [sys.executable, "-m", "pip", "--version"]
    if subprocess.run(probe, capture_output=True, check=False).returncode:
        _die(
            "cannot create a virtualenv with pip: this Python has neither ensurepip nor pip. "
            "Fix (Debian/Ubuntu): sudo apt install python3-venv"
        )
    _pip_install_locked([sys.executable, "-m", "pip", "--python", str(PYTHON)], "pip")


def _uv_version() -> str:
    if not UV.exists():
        return ""
    out = subprocess.run([str(UV), "--version"], capture_output=True, text=True, check=False)
    words = out.stdout.split()
    return words[1] if out.returncode == 0 and len(words) > 1 else ""


def sync_lock(python: Path, environment: Path) -> None:
    """Make *environment* (the venv of *python*) exactly uv.lock: ``uv sync --frozen`` installs
    the lock as written (hash-checked, no resolution) and leaves what already matches alone."""
    if _uv_version() != locked("uv")[0]:
        _pip_install_locked([str(PYTHON), "-m", "pip", "--disable-pip-version-check"], "uv")
    extras = [arg for extra in EXTRAS for arg in ("--extra", extra)]
    command = [str(UV), "sync", "-q", "--frozen", "--inexact", *extras, "--python", str(python)]
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment)}
    if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:
        _die("uv sync failed (see above).")


def ensure_venv() -> Path:
    """Create .venv if needed; make it uv.lock (our package editable) when the lock, the
    project or this Python changed since the last install."""
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py itself may run on an old python3
        _die(f"Python 3.10+ is required (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"dev.py: creating {VENV} ...", flush=True)
        _create_venv()
    # The .pth is copied into site-packages at install time (not linked): reinstall when it changes.
    inputs = [LOCK, PYPROJECT, ROOT / "buildpack" / "channels_buildpack.pth"]
    wanted = hashlib.sha256(
        b"".join(p.read_bytes() for p in inputs) + repr(EXTRAS).encode() + sys.version.encode()
    ).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print(f"dev.py: installing uv.lock into {VENV} ...", flush=True)
        sync_lock(PYTHON, VENV)
        STAMP.write_text(wanted)
    return PYTHON


def lock_date() -> str:
    """The lock's date: pyproject.toml's ``[tool.uv] exclude-newer``."""
    match = EXCLUDE_NEWER.search(PYPROJECT.read_text(encoding="utf-8"))
    if match is None:
        _die('pyproject.toml has no [tool.uv] exclude-newer = "..." line.')
    return match.group(2)


def _at_lock_date() -> None:
    """The tests', demo's and bench's own installs resolve as of the lock's date too."""
    for name in INDEX_DATE_VARS:
        os.environ.setdefault(name, lock_date())


def call(*command: str) -> int:
    """Run *command* in the repository; its exit code."""
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def run(*command: str) -> None:
    """Run *command* in the repository; stop with its exit code if it failed."""
    code = call(*command)
    if code:
        raise SystemExit(code)


# ``--subset NAME``: (marker expression, test files). The smoke subset is what CI runs on
# the newest Python: Django 6 and the CNB build served there, the launchers' basics.
SUBSETS: dict[str, tuple[str, list[str]]] = {
    "all": ("", []),
    "smoke": ("smoke", []),
    "build": (
        "",
        [
            "tests/e2e/test_classic_build.py",
            "tests/e2e/test_cnb_build.py",
            "tests/e2e/test_django6.py",
        ],
    ),
    "launchers": ("", ["tests/e2e/test_launchers.py", "tests/e2e/test_web_engines.py"]),
    "layers": (
        "",
        ["tests/unit/runtime/layers/test_redis.py", "tests/unit/runtime/layers/test_memory.py"],
    ),
}


def _options(args: list[str]) -> tuple[str, str, list[str]]:
    """``(python version or "", subset, pytest args)`` from ``test``'s leading options."""
    version, subset = "", "all"
    while args and args[0] in ("--python", "--subset"):
        if len(args) < 2:
            _die(f"{args[0]} needs a value")
        if args[0] == "--python":
            version = args[1]
        else:
            subset = args[1]
        args = args[2:]
    if version and not re.fullmatch(r"3\.\d+", version):
        _die(f"--python takes a version like 3.14, not {version!r}")
    if subset not in SUBSETS:
        _die(f"--subset is one of {', '.join(SUBSETS)}, not {subset!r}")
    return version, subset, args


def cmd_test(args: list[str]) -> None:
    version, subset, args = _options(args)
    if version and version != LEG:  # start the leg: its venv is chosen when dev.py loads
        raise SystemExit(_start_leg(version, subset, args))
    python = str(ensure_venv())
    _at_lock_date()
    if not version:  # lint and types do not depend on the Python: the default leg checks them
        sources = [p for p in ("buildpack", "tests", "bench", "dev.py") if (ROOT / p).exists()]
        run(python, "-m", "ruff", "check", *sources)
        run(python, "-m", "ruff", "format", "--check", *sources)
        run(python, "-m", "mypy")
    marker, files = SUBSETS[subset]
    _pytest(python, marker, [*files, *args])


def _start_leg(version: str, subset: str, args: list[str]) -> int:
    """Run ``dev.py test`` again as the leg of Python *version* (:data:`LEG_VAR` set): with
    this interpreter when it is that version, else in its Debian root or with this
    machine's interpreter of that version; the exit code."""
    from tests.support import pythons

    os.environ[LEG_VAR] = version
    argv = ["dev.py", "test", "--python", version, "--subset", subset, *args]
    try:
        if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
            return subprocess.run([sys.executable, *argv], cwd=ROOT, check=False).returncode
        if version in pythons.DEBIAN_SUITES:
            root = pythons.DebianRoot(version)
            root.ensure()
            return root.run([root.python, str(ROOT / "dev.py"), *argv[1:]], ROOT)
        python = pythons.host_python(version)
        if python is None:
            _die(f"no Python {version} on this machine. Fix: pyenv install {version}")
        return subprocess.run([str(python), *argv], cwd=ROOT, check=False).returncode
    except pythons.PythonUnavailable as exc:
        _die(f"cannot run the tests on Python {version}: {exc}")
    return 1


def _pytest(python: str, marker: str, args: list[str]) -> None:
    """pytest: the tests marked ``alone`` by themselves, then the rest in parallel (last, so
    the run's closing line counts the bulk of the tests)."""
    parallel = _parallel(args)
    if not parallel:
        run(python, "-m", "pytest", *(["-m", marker] if marker else []), *args)
        return
    # Tests marked "alone" judge how the OS schedules our processes: other workers' load
    # would decide them, so they run by themselves.
    both = f"({marker}) and " if marker else ""
    codes = [
        call(python, "-m", "pytest", "-m", f"{both}alone", *args),
        call(python, "-m", "pytest", *parallel, "-m", f"{both}not alone", *args),
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
    python = str(ensure_venv())
    _at_lock_date()
    os.execv(python, [python, "-m", "tests.support.demo", *args])


def cmd_bench(args: list[str]) -> None:
    python = str(ensure_venv())  # the test extra carries the bench tools
    _at_lock_date()
    os.execv(python, [python, "-m", "bench", *args])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_lock(args: list[str]) -> None:
    """Re-lock (with --upgrade: the newest releases as of now, the lock's date moved to now),
    then copy the lock's versions into the slug pins and the build backend pin."""
    if args not in ([], ["--upgrade"]):
        _die("usage: python3 dev.py lock [--upgrade]")
    python = str(ensure_venv())
    if args:
        text = PYPROJECT.read_text(encoding="utf-8")
        lock_date()  # the line exists
        PYPROJECT.write_text(EXCLUDE_NEWER.sub(rf"\g<1>{_now()}\g<3>", text), encoding="utf-8")
        print(f"dev.py: lock date moved to {lock_date()}", flush=True)
    run(str(UV), "lock", *args)
    run(python, "-m", "tests.support.lockfile", "sync")
    run(str(UV), "lock")  # the [build-system] pin may have moved with the lock: record it
    ensure_venv()
    print("dev.py: next: python3 dev.py test, python3 dev.py bench --quick, then commit.")


def cmd_outdated(args: list[str]) -> None:
    """What ``lock --upgrade`` would change as of now; nothing is written."""
    if args:
        _die("usage: python3 dev.py outdated")
    ensure_venv()
    command = [str(UV), "lock", "--upgrade", "--dry-run", "--exclude-newer", _now()]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit(result.returncode)
    changes = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(("Update ", "Add ", "Remove "))
    ]
    for line in changes or [f"nothing newer than the lock's versions (locked {lock_date()})"]:
        print(f"dev.py: {line}")


COMMANDS = {
    "test": cmd_test,
    "demo": cmd_demo,
    "bench": cmd_bench,
    "lock": cmd_lock,
    "outdated": cmd_outdated,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        raise SystemExit(2)
    os.chdir(ROOT)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
