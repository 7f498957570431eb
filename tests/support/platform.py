"""A local stand-in for the Heroku classic build and dyno runtime.

It does what the platform does, with real processes, so the buildpack is exercised
through its real ``bin/*`` scripts:

* copy the app to ``<root>/tmp/build_<hash>`` (the build path);
* ``bin/detect BUILD_DIR``;
* play heroku/python: link ``<root>/app/.heroku/python`` to ``BUILD_DIR/.heroku/python``,
  create that Python (a venv made with uv) and install the app's declared dependencies,
  write its ``.profile.d/python.sh`` and put ``<root>/app/.heroku/python/bin`` on PATH
  (what its ``export`` file does for later buildpacks);
* ``bin/compile BUILD_DIR CACHE_DIR ENV_DIR``, then ``bin/release BUILD_DIR``;
* remove the link and MOVE the build dir to ``<root>/app`` (the run path), so anything
  that baked the build path breaks like it would on Heroku;
* start Procfile processes like a dyno: ``HOME`` = app dir, config vars + ``PORT`` +
  ``DYNO`` in the environment, ``.profile.d/*.sh`` sourced, then ``bash -c <command>``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.paths import REPO
from tests.support.procs import ManagedProcess, ProcessGroup

BIN = REPO / "bin"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "fixture.json", "db.sqlite3", ".venv")
HEROKU_PYTHON_PROFILE = """\
export PATH="$HOME/.heroku/python/bin:$PATH"
export PYTHONUNBUFFERED=true
export PYTHONPATH="${PYTHONPATH:-$HOME}"
export LANG="${LANG:-C.UTF-8}"
"""


# dev.py sets these to the lock's date: the package index as the lock saw it, for the
# platform's own installs too (pip >= 26 reads the second).
INDEX_DATE_VARS = ("UV_EXCLUDE_NEWER", "PIP_UPLOADED_PRIOR_TO")


def index_date_env() -> dict[str, str]:
    """The index-date variables of this process, for a build environment made from scratch."""
    return {name: os.environ[name] for name in INDEX_DATE_VARS if name in os.environ}


def uv_binary() -> str:
    """The uv executable from the test environment (a PyPI wheel, nothing installed by hand)."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except ImportError:
        found = shutil.which("uv")
        if not found:
            raise RuntimeError("uv is required by the test harness: pip install uv") from None
        return found


def requested_python(app: Path) -> str | None:
    """The Python version an app asks heroku/python for: .python-version, runtime.txt or
    Pipfile.lock's ``_meta.requires.python_version`` (None: the default)."""
    version_file = app / ".python-version"
    if version_file.is_file():
        return version_file.read_text().strip().split()[0]
    runtime = app / "runtime.txt"
    if runtime.is_file():
        return runtime.read_text().strip().removeprefix("python-")
    lock = app / "Pipfile.lock"
    if lock.is_file():
        requires = json.loads(lock.read_text()).get("_meta", {}).get("requires", {})
        return requires.get("python_version") or requires.get("python_full_version")
    return None


def python_for(app: Path) -> str | None:
    """A base interpreter for the app's requested Python (None if not on this machine)."""
    wanted = requested_python(app)
    if wanted is None:
        return sys._base_executable  # type: ignore[attr-defined,no-any-return]
    major_minor = ".".join(wanted.split(".")[:2])
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if major_minor == current:
        return sys._base_executable  # type: ignore[attr-defined,no-any-return]
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = sorted(pyenv.glob(f"{major_minor}.*/bin/python{major_minor}"), reverse=True)
    candidates += [Path(p) for p in [shutil.which(f"python{major_minor}")] if p]
    for candidate in candidates:
        probe = subprocess.run(
            [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == major_minor:
            return str(candidate)
    return None


def system_path() -> str:
    """PATH for build and dyno processes: a real python3 first (build images have one)."""
    python_dir = str(Path(sys._base_executable).parent)  # type: ignore[attr-defined]
    return os.pathsep.join([python_dir, "/usr/local/bin", "/usr/bin", "/bin"])


@dataclass
class Step:
    """One platform step's outcome."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Build:
    """The result of pushing an app through the emulated platform."""

    source: Path
    app_dir: Path
    detect: Step
    compile: Step | None = None
    release: Step | None = None
    build_dir: Path | None = None
    config_vars: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.compile and self.compile.returncode == 0 and self.release)

    def procfile(self) -> dict[str, str]:
        from buildpack.core.procfile import parse

        path = self.app_dir / "Procfile"
        return parse(path.read_text()) if path.is_file() else {}

    def state(self) -> dict[str, object]:
        path = self.app_dir / ".channels-buildpack" / "build.json"
        return json.loads(path.read_text()) if path.is_file() else {}


class Platform:
    """Build apps and run their processes like Heroku would, under *root*."""

    def __init__(self, root: Path, cache_dir: Path | None = None) -> None:
        self.root = root
        self.cache_dir = cache_dir or root / "cache"
        self.count = 0

    # -- build -------------------------------------------------------------------------------

    def build(
        self,
        source: Path,
        config_vars: dict[str, str] | None = None,
        *,
        install_dependencies: bool = True,
        compile_times: int = 1,
    ) -> Build:
        """Detect, provide Python, compile and release *source*; the slug ends in ``app_dir``."""
        self.count += 1
        base = self.root / f"deploy{self.count}"
        build_dir = base / "tmp" / f"build_{uuid.uuid4().hex[:12]}"
        app_dir = base / "app"
        env_dir = base / "env"
        shutil.copytree(source, build_dir, ignore=IGNORED, symlinks=True)
        env_dir.mkdir(parents=True)
        config_vars = dict(config_vars or {})
        for name, value in config_vars.items():
            (env_dir / name).write_text(value)
        env = {"PATH": system_path(), "HOME": str(base), "STACK": "heroku-24", "LANG": "C.UTF-8"}
        env.update(index_date_env())
        build = Build(source, app_dir, self._run([str(BIN / "detect"), str(build_dir)], env))
        build.build_dir = build_dir
        build.config_vars = config_vars
        if build.detect.returncode != 0:
            return build
        python = python_for(source)
        if python is None:
            raise LookupError(f"no Python for {source / '.python-version'} on this machine")
        link = app_dir / ".heroku" / "python"
        self._heroku_python(build_dir, link, python, install_dependencies)
        env["PATH"] = f"{link / 'bin'}{os.pathsep}{env['PATH']}"
        command = [str(BIN / "compile"), str(build_dir), str(self.cache_dir), str(env_dir)]
        for _ in range(compile_times):  # >1: a repeat deploy onto the same Python
            build.compile = self._run(command, env, cwd=build_dir)
        if build.compile.returncode == 0:
            build.release = self._run([str(BIN / "release"), str(build_dir)], env)
        shutil.rmtree(app_dir)
        shutil.move(str(build_dir), str(app_dir))
        return build

    @staticmethod
    def _run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Step:
        result = subprocess.run(
            command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
        )
        return Step(result.returncode, result.stdout, result.stderr)

    def _heroku_python(self, build_dir: Path, link: Path, python: str, install: bool) -> None:
        """What heroku/python leaves behind: a Python at .heroku/python with the deps in it."""
        target = build_dir / ".heroku" / "python"
        target.mkdir(parents=True)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target, target_is_directory=True)
        uv = uv_binary()
        uses_uv = (build_dir / "uv.lock").is_file()
        seed = [] if uses_uv or (build_dir / "poetry.lock").is_file() else ["--seed"]
        venv = [uv, "venv", "-q", "--python", python, *seed, str(link)]
        subprocess.run(venv, check=True, capture_output=True, text=True)
        if install:
            self._install(build_dir, link, uv, uses_uv)
        profile = build_dir / ".profile.d" / "python.sh"
        profile.parent.mkdir(exist_ok=True)
        profile.write_text(HEROKU_PYTHON_PROFILE)

    @staticmethod
    def _install(
        build_dir: Path, link: Path, uv: str, uses_uv: bool, compile_bytecode: bool = True
    ) -> None:
        python = str(link / "bin" / "python")
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(link), "VIRTUAL_ENV": str(link)}
        if uses_uv:  # the app's own lock decides (a lock date of ours would make it stale)
            env.pop("UV_EXCLUDE_NEWER", None)
            command = [uv, "sync", "-q", "--locked", "--no-default-groups", "--no-install-project"]
        elif (build_dir / "requirements.txt").is_file():
            command = [uv, "pip", "install", "-q", "--python", python, "-r", "requirements.txt"]
        else:
            command = [uv, "pip", "install", "-q", "--python", python, *_declared(build_dir)]
        if compile_bytecode:  # like heroku/python (pip's default; uv: the flag)
            command.append("--compile-bytecode")
        result = subprocess.run(
            command, cwd=build_dir, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"installing the app's dependencies failed:\n{result.stderr}")

    # -- run ---------------------------------------------------------------------------------

    def dyno_env(
        self, build: Build, dyno: str, port: int | None = None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The environment a dyno starts with (before ``.profile.d`` runs)."""
        env = {"PATH": system_path(), "HOME": str(build.app_dir), "LANG": "C.UTF-8"}
        if dyno:
            env["DYNO"] = dyno
        env.update(build.config_vars)
        if port is not None:
            env["PORT"] = str(port)
        env.update(extra or {})
        return env

    def start(
        self,
        procs: ProcessGroup,
        build: Build,
        process_type: str,
        *,
        dyno: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        command: str | None = None,
    ) -> ManagedProcess:
        """Start a Procfile process (or *command*) like a dyno does (``dyno=""``: no DYNO)."""
        command = command or build.procfile()[process_type]
        dyno = f"{process_type}.1" if dyno is None else dyno
        script = 'cd "$HOME" && for f in .profile.d/*.sh; do . "$f"; done && exec ' + command
        return procs.start(
            ["bash", "-c", script],
            env=self.dyno_env(build, dyno, port, env),
            cwd=build.app_dir,
            name=f"{build.app_dir.parent.name}-{dyno or process_type}",
        )

    def run_release(self, build: Build, env: dict[str, str] | None = None) -> Step:
        """Run the release phase (``release:`` in the Procfile) to completion."""
        command = build.procfile().get("release")
        if not command:
            return Step(0, "", "")
        script = 'cd "$HOME" && for f in .profile.d/*.sh; do . "$f"; done && exec ' + command
        full_env = self.dyno_env(build, "release.1", None, env)
        return self._run(["bash", "-c", script], full_env, cwd=build.app_dir)


def _declared(build_dir: Path) -> list[str]:
    """Requirements to install for Pipfile/Poetry apps: locked versions when there is a lock."""
    from buildpack.core.deps import read_dependencies

    deps = read_dependencies(build_dir)
    wanted = []
    for name, requirement in deps.declared.items():
        if not requirement.applies_on_dyno():
            continue
        extras = f"[{','.join(requirement.extras)}]" if requirement.extras else ""
        version = deps.locked.get(name)
        wanted.append(f"{name}{extras}=={version}" if version else f"{name}{extras}")
    return wanted
