"""Run hostile repositories through every build step and check the build's promises.

For each case (:mod:`tests.support.corpus`) the repository is generated straight into a
build directory (FIFOs, symlinks, odd names: things git cannot carry), then ``bin/detect``,
``bin/compile``, ``bin/release`` and ``channels-buildpack inspect`` run on it, each with the
build directory as working directory, an empty ``HOME`` and a 60 s limit. Afterwards:

* every step exited 0 or 1, printed no traceback and no "unexpected error" line;
* no repository file changed (hash before/after) and nothing appeared in the repository but
  the files the buildpack writes;
* the empty HOME is still empty, the sentinel directory outside is unchanged;
* no canary fired (canary modules write into the canary directory when imported).

All cases share one app Python (``.heroku/python`` is a link to it) that already holds the
stack and the runtime, so a compile does not run pip: a case costs about a second.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from buildpack.core import pins
from buildpack.core.generate import MARKER
from tests.support.platform import BIN, system_path, uv_binary

STEP_TIMEOUT = 60
INSPECT = Path(sys.executable).parent / "channels-buildpack"
# What a build may add to the repository (relative paths; the generated ASGI module anywhere).
WRITTEN = {
    "Procfile",
    ".profile.d",
    ".profile.d/channels-buildpack.sh",
    ".channels-buildpack",
    ".channels-buildpack/build.json",
}
GENERATED_ASGI = "channels_buildpack_asgi.py"
OURS = {".profile.d/channels-buildpack.sh", ".channels-buildpack/build.json"}


@dataclass
class Dirs:
    """Where one case lives: the repository (BUILD_DIR) and everything around it."""

    root: Path

    @property
    def build(self) -> Path:
        return self.root / "tmp" / "build_0123456789ab"

    @property
    def outside(self) -> Path:  # the sentinel: symlinks in hostile repositories point here
        return self.root / "outside"

    @property
    def canary(self) -> Path:
        return self.root / "canary"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def env(self) -> Path:
        return self.root / "env"

    @property
    def cache(self) -> Path:
        return self.root / "cache"


@dataclass
class Case:
    """One hostile repository: *make* writes it into ``dirs.build``."""

    name: str
    make: Callable[[Dirs], None]
    config_vars: Callable[[Path], None] | None = None  # writes ENV_DIR
    compile_rc: int | None = None  # the expected compile exit code, when it is certain
    says: str = ""  # text the compile output must contain
    detect_rc: int | None = None


@dataclass
class Outcome:
    """What one step did."""

    step: str
    returncode: int | None  # None: killed at the time limit
    output: str
    seconds: float


@dataclass
class Result:
    case: Case
    dirs: Dirs
    steps: dict[str, Outcome] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Every broken promise, as readable lines (empty: all kept)."""
        found = []
        for outcome in self.steps.values():
            found += _step_problems(outcome)
        compile_ = self.steps["compile"]
        if self.case.compile_rc is not None and compile_.returncode != self.case.compile_rc:
            found.append(f"compile exited {compile_.returncode}, expected {self.case.compile_rc}")
        if self.case.says and self.case.says not in compile_.output:
            found.append(f"compile output lacks {self.case.says!r}")
        detect = self.steps["detect"]
        if self.case.detect_rc is not None and detect.returncode != self.case.detect_rc:
            found.append(f"detect exited {detect.returncode}, expected {self.case.detect_rc}")
        return found


def _step_problems(outcome: Outcome) -> list[str]:
    name = outcome.step
    tail = outcome.output[-3000:]
    if outcome.returncode is None:
        return [f"{name} did not finish within {STEP_TIMEOUT} s:\n{tail}"]
    found = []
    if outcome.returncode not in (0, 1):
        found.append(f"{name} exited {outcome.returncode}:\n{tail}")
    if "Traceback" in outcome.output:
        found.append(f"{name} printed a traceback:\n{tail}")
    if "stopped on an unexpected" in outcome.output:
        found.append(f"{name} hit an unexpected error (a bug):\n{tail}")
    return found


# -- file system snapshots --------------------------------------------------------------------


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple[object, ...]]:
    """Every path below *root* (symlinks not followed) with its type and content hash; a
    generated ASGI module carrying the buildpack's marker is tagged ``ours``."""
    found: dict[str, tuple[object, ...]] = {}
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            names = os.listdir(directory)
        except OSError as exc:
            found[str(directory.relative_to(root))] = ("unlistable", exc.errno)
            continue
        for name in names:
            path = directory / name
            relative = os.path.relpath(path, root)
            if relative in skip:
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                found[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[relative] = ("dir",)
                pending.append(path)
            elif stat.S_ISREG(info.st_mode):
                data = path.read_bytes()
                owner = "ours" if name == GENERATED_ASGI and MARKER.encode() in data else ""
                digest = hashlib.sha256(data).hexdigest()
                found[relative] = ("file", digest, stat.S_IMODE(info.st_mode), owner)
            else:
                found[relative] = ("special", stat.S_IFMT(info.st_mode))
    return found


def repository_changes(
    before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]]
) -> list[str]:
    """Repository paths changed, removed, or added beyond what the build writes."""
    changes = []
    generated = {p for p, sig in after.items() if sig[0] == "file" and sig[-1] == "ours"}
    for path, signature in before.items():
        ours = path in OURS or (path.endswith(GENERATED_ASGI) and path in generated)
        if after.get(path) != signature and not ours:
            changes.append(f"changed or removed: {path!r} {signature} -> {after.get(path)}")
    for path in sorted(set(after) - set(before)):
        if path not in WRITTEN and not path.endswith(GENERATED_ASGI):
            changes.append(f"appeared in the repository: {path!r}")
    return changes


# -- the shared app Python ----------------------------------------------------------------------


def make_app_python(root: Path, warm_up_app: Path) -> Path:
    """A venv with the stack and (after one real compile) the runtime: ``.heroku/python``."""
    python_dir = make_fresh_python(root)
    dirs = Dirs(root / "warm-up")
    prepare(dirs, python_dir, lambda d: _copy(warm_up_app, d.build))
    result = run_steps(Case("warm-up", lambda d: None), dirs, python_dir, steps=("compile",))
    assert result.steps["compile"].returncode == 0, result.steps["compile"].output
    return python_dir


def _copy(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(
        source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("fixture.json")
    )


# -- running one case -----------------------------------------------------------------------------


def prepare(dirs: Dirs, python_dir: Path, make: Callable[[Dirs], None]) -> None:
    for directory in (dirs.build, dirs.outside, dirs.canary, dirs.home, dirs.env, dirs.cache):
        directory.mkdir(parents=True, exist_ok=True)
    (dirs.outside / "secret.txt").write_text("outside the build: never to be written\n")
    (dirs.outside / "existing-dir").mkdir(exist_ok=True)
    make(dirs)


def _link_python(dirs: Dirs, python_dir: Path) -> None:
    heroku = dirs.build / ".heroku"
    heroku.mkdir(exist_ok=True)
    (heroku / "python").symlink_to(python_dir, target_is_directory=True)


def _run(step: str, command: list[str], env: dict[str, str], cwd: Path) -> Outcome:
    started = time.monotonic()
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=STEP_TIMEOUT)
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: bash and its python
            out, _ = proc.communicate()
            code = None
    text = out.decode("utf-8", errors="backslashreplace")
    return Outcome(step, code, text, time.monotonic() - started)


def run_steps(
    case: Case,
    dirs: Dirs,
    python_dir: Path,
    steps: tuple[str, ...] = ("detect", "compile", "release", "inspect"),
) -> Result:
    """Run *steps* on a prepared case (the repository is already in ``dirs.build``)."""
    if not (dirs.build / ".heroku").exists():
        _link_python(dirs, python_dir)
    env = {
        "PATH": os.pathsep.join([str(python_dir / "bin"), system_path()]),
        "HOME": str(dirs.home),
        "LANG": "C.UTF-8",
        "STACK": "heroku-24",
    }
    build = str(dirs.build)
    commands = {
        "detect": [str(BIN / "detect"), build],
        "compile": [str(BIN / "compile"), build, str(dirs.cache), str(dirs.env)],
        "release": [str(BIN / "release"), build],
        "inspect": [str(INSPECT), "inspect", build],
    }
    result = Result(case, dirs)
    for step in steps:
        result.steps[step] = _run(step, commands[step], env, dirs.build)
    return result


def run_case(case: Case, root: Path, python_dir: Path, cache: Path) -> tuple[Result, list[str]]:
    """Generate, snapshot, run every step, compare; returns the result and broken promises."""
    dirs = Dirs(root / case.name)
    prepare(dirs, python_dir, case.make)
    dirs.cache.rmdir()
    dirs.cache.symlink_to(cache, target_is_directory=True)  # the build cache, shared
    if case.config_vars:
        case.config_vars(dirs.env)
    before = snapshot(dirs.build)
    outside = snapshot(dirs.outside)
    result = run_steps(case, dirs, python_dir)
    problems = result.problems()
    problems += repository_changes(before, snapshot(dirs.build, skip=(".heroku",)))
    if snapshot(dirs.outside) != outside:
        problems.append("the sentinel directory outside the build changed")
    if any(dirs.home.iterdir()):
        problems.append(f"HOME is not empty: {sorted(p.name for p in dirs.home.iterdir())}")
    fired = sorted(p.name for p in dirs.canary.iterdir())
    if fired:
        problems.append(f"canaries fired (repository code ran): {fired}")
    return result, problems


def make_fresh_python(root: Path) -> Path:
    """A venv with the stack but not the runtime (a first deploy: compile runs pip)."""
    python_dir = root / "python"
    uv = uv_binary()
    base = sys._base_executable  # type: ignore[attr-defined]
    subprocess.run([uv, "venv", "-q", "--seed", "--python", base, str(python_dir)], check=True)
    stack = ["django>=4.2,<6", *(pins.pinned(name) for name in pins.PINS)]
    install = [uv, "pip", "install", "-q", "--python", str(python_dir / "bin" / "python")]
    subprocess.run([*install, *stack], check=True, capture_output=True)
    return python_dir
