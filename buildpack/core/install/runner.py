"""Installing into the app's Python (classic: ``BUILD_DIR/.heroku/python``), or into a
directory of our own beside it (Cloud Native Buildpacks: a layer that no other buildpack owns).

Two platform details shape this module:

* heroku/python builds in ``/tmp/build_<hash>`` but the slug runs from ``/app``; it links
  ``/app/.heroku/python`` to the build's Python and puts that path on ``PATH``. pip writes
  console-script shebangs from the interpreter path it runs under, so we run pip through that
  run-time path whenever it exists, and only otherwise repair our own script's shebang.
* uv and Poetry apps get no pip in the slug, and heroku/python's CNB keeps pip out of its
  venv (a ``--user`` install in a layer of its own): :mod:`buildpack.core.install.pipfind` finds the
  pip each platform provides, and falls back to the wheel of ``ensurepip``.

pip's cache lives in ``CACHE_DIR`` so a build never writes outside BUILD_DIR/CACHE_DIR.
Every Python we start here runs isolated (``-I``) from a neutral working directory, so
neither the repository (a ``typing.py`` or ``pip/`` at its root) nor PYTHONPATH is on its
``sys.path``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack import __version__, log, messages
from buildpack.core import pins, safefs
from buildpack.core.install import pipfind, wheelcache

RUNTIME_PYTHON_LINKS = ("/app/.heroku/python/bin/python",)
# What our runtime accepts when the app already has it (mirrors pyproject.toml); a missing
# or older one is installed at its pin (pins.py, a copy of uv.lock).
RUNTIME_DEPENDENCIES = ("packaging>=23", "dj-database-url>=2.1")
# Makes the web process faster when present (Daphne's reactor and uvicorn run on it; see
# runtime/web/speedups.py). Binary wheels only, best effort: a Python that has no
# uvloop wheel yet still builds, and the web process runs on the stock asyncio loop.
OPTIONAL_DEPENDENCIES = ("uvloop>=0.19; sys_platform != 'win32'",)
TOMLI = "tomli>=2.0"
DIGEST_MARKER = "_installed_from"
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
MAX_SCRIPT_BYTES = 1024 * 1024


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


def _python(
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


def _pip_base(app: AppPython) -> list[str]:
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


def _run_pip(base: list[str], args: Sequence[str], env: Mapping[str, str], what: str) -> None:
    result = _python([*base, *args], env)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        log.detail(output[-6000:])
        raise InstallError(what, result.returncode)


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
    env = pip_env(cache_dir, config_vars)
    _run_pip(_pip_base(app), ["install", "-q", *requirements], env, ", ".join(requirements))


def install_into(
    app: AppPython,
    requirements: Sequence[str],
    target: Path,
    cache_dir: Path,
    config_vars: Mapping[str, str],
) -> None:
    """Install *requirements*, and what they need that the app's Python lacks, into *target*.

    The app's Python is never written to. pip first resolves against it (``--dry-run
    --report``: what the app already has, in the versions it has, is used as is), then
    exactly the missing distributions go into *target*, which is put on ``PYTHONPATH`` at
    run time.
    """
    env = pip_env(cache_dir, config_vars)
    base = _pip_base(app)
    what = ", ".join(_display(r) for r in requirements)
    with tempfile.TemporaryDirectory(prefix="cbp-report-") as tmp:
        report = Path(tmp) / "report.json"
        args = ["install", "-q", "--dry-run", "--report", str(report), *requirements]
        _run_pip(base, args, env, what)
        planned = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    wanted = [_report_requirement(item) for item in planned]
    if wanted:
        args = ["install", "-q", "--no-deps", "--upgrade", "--target", str(target), *wanted]
        _run_pip(base, args, env, what)


def _display(requirement: str) -> str:
    return Path(requirement).name if requirement.endswith(".whl") else requirement


def _report_requirement(item: Mapping[str, object]) -> str:
    """A pip requirement for one entry of ``pip install --report``: a direct file stays a
    file, anything from an index is pinned to the version the resolver chose."""
    metadata = item["metadata"]
    assert isinstance(metadata, dict)
    download = item.get("download_info")
    if item.get("is_direct") and isinstance(download, dict):
        return str(download["url"])
    return f"{metadata['name']}=={metadata['version']}"


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
    return [pins.pinned(_name(r)) for r in runtime_dependencies() if not _satisfied(r)]


def _name(requirement: str) -> str:
    """The project name of a ``name>=X``, ``name==X`` or ``name; marker`` requirement."""
    return re.split(r"[<>=!~;\s]", requirement, maxsplit=1)[0]


def _satisfied(requirement: str) -> bool:
    name, _, minimum = requirement.partition(">=")
    try:
        installed = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return _release(installed) >= _release(minimum.split(";")[0]) if minimum else True


def _release(version: str) -> tuple[int, ...]:
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


def _installed_marker() -> Path | None:
    """Where the installed copy records which buildpack source it came from."""
    try:
        dist = importlib.metadata.distribution("channels-buildpack")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file(f"buildpack/{DIGEST_MARKER}")))


def _read_or_empty(path: Path) -> str:
    try:
        return safefs.read_text(path, MAX_SCRIPT_BYTES)
    except OSError:
        return ""


def install_runtime(
    app: AppPython, bp_dir: Path, cache_dir: Path, config_vars: Mapping[str, str]
) -> bool:
    """Install channels-buildpack (and its small deps) into the app's Python.

    One pip run at most; none when the slug's Python (restored from heroku/python's
    cache on a repeat deploy) already holds this exact buildpack source. Returns whether
    anything was installed.
    """
    digest = source_digest(bp_dir)
    marker = _installed_marker()
    missing = missing_runtime_dependencies()
    env = pip_env(cache_dir, config_vars)
    if marker is not None and _read_or_empty(marker) == digest and not missing:
        return install_optional(app, env)
    wheel = runtime_wheel(bp_dir, cache_dir, app, env)
    command = ["install", "-q", "--force-reinstall", "--no-deps", str(wheel), *missing]
    _install_with_optional(app, command, env, "channels-buildpack")
    if not app.runtime_valid:
        relocate_scripts(app, ["channels-buildpack"])
    importlib.invalidate_caches()
    marker = _installed_marker()
    if marker is not None and marker.parent.is_dir():
        safefs.write_text(marker.parent, marker.name, digest)
    return True


def missing_optional_dependencies() -> list[str]:
    """The :data:`OPTIONAL_DEPENDENCIES` that apply here and are not installed, pinned."""
    return [
        pins.pinned(_name(r)) for r in OPTIONAL_DEPENDENCIES if _applies(r) and not _satisfied(r)
    ]


def _names(requirements: Sequence[str]) -> list[str]:
    """The project names of requirements."""
    return [_name(r) for r in requirements]


def _from_binary_wheels(requirements: Sequence[str]) -> list[str]:
    """pip arguments adding *requirements*, taken from binary wheels only (others as usual)."""
    return ["--only-binary", ",".join(_names(requirements)), *requirements]


def install_runtime_into(
    app: AppPython,
    wanted: Sequence[str],
    target: Path,
    cache_dir: Path,
    config_vars: Mapping[str, str],
) -> None:
    """Our wheel and the runtime dependencies the app lacks (*wanted*: the wheel, then pins,
    nothing to resolve) into *target*, the optional packages too when they have a wheel.

    One pip run from files when the build cache holds every wheel
    (:mod:`buildpack.core.install.wheelcache`); otherwise they are downloaded there first, and
    when even that fails, installed from the index as they come."""
    env = pip_env(cache_dir, config_vars)
    what = ", ".join(_display(r) for r in wanted)
    command = ["install", "-q", "--no-deps", "--upgrade", "--target", str(target)]
    cached = _cached_wheels(app, list(wanted[1:]), cache_dir, env)
    if cached is None:
        _install_with_optional(app, [*command, *wanted], env, what)
        return
    files, dropped = cached
    _run_pip(_pip_base(app), [*command, "--no-index", wanted[0], *map(str, files)], env, what)
    if dropped:
        _say_optional_missing(dropped)


def _cached_wheels(
    app: AppPython, pinned: list[str], cache_dir: Path, env: Mapping[str, str]
) -> tuple[list[Path], list[str]] | None:
    """``(wheel files, optional requirements left out)`` for *pinned* and the missing
    optional packages, downloading what the cache lacks (every runtime pin of this Python
    at once, so the next app on it finds them whatever it lacks); None when the pins cannot
    be had as wheels."""
    folder = wheelcache.directory(cache_dir)
    optional = missing_optional_dependencies()
    every = [pins.pinned(_name(r)) for r in runtime_dependencies()]
    every_optional = [pins.pinned(_name(r)) for r in OPTIONAL_DEPENDENCIES if _applies(r)]
    attempts: list[tuple[list[str], list[str], list[str]]] = [
        ([*pinned, *optional], [], every_optional),  # the optional ones too, if they have wheels
        (pinned, optional, []),
    ]
    for wanted, dropped, extra in attempts:
        if wheelcache.missing(folder, wanted):
            args = ["download", "-q", "--no-deps", "--only-binary", ":all:", "-d", str(folder)]
            absent = wheelcache.missing(folder, [*every, *extra, *wanted])
            _python([*_pip_base(app), *args, *dict.fromkeys(absent)], env)
        files = wheelcache.find_all(folder, wanted)
        if files is not None:
            return files, dropped
    return None


def _install_with_optional(
    app: AppPython, command: list[str], env: Mapping[str, str], what: str
) -> None:
    """Run pip *command* with the missing optional packages added (one pip start-up less
    on a first build); if that fails, without them, and say so in the build log."""
    optional = missing_optional_dependencies()
    base = _pip_base(app)  # a Python start-up of its own: once
    if optional and _python([*base, *command, *_from_binary_wheels(optional)], env).returncode == 0:
        return
    _run_pip(base, command, env, what)
    if optional:  # our runtime installed alone: the optional packages were the problem
        _say_optional_missing(optional)


def _say_optional_missing(requirements: Sequence[str]) -> None:
    names = ", ".join(_names(requirements))
    log.detail(f"{names}: no binary wheel for this Python; the web process runs without it")


def install_optional(app: AppPython, env: Mapping[str, str]) -> bool:
    """Install the missing :data:`OPTIONAL_DEPENDENCIES` from binary wheels; a failure is
    one line in the build log, not a failed build. Returns whether anything was installed."""
    missing = missing_optional_dependencies()
    if not missing:
        return False
    result = _python([*_pip_base(app), "install", "-q", *_from_binary_wheels(missing)], env)
    if result.returncode != 0:
        _say_optional_missing(missing)
        return False
    return True


def _applies(requirement: str) -> bool:
    """Whether a requirement's ``sys_platform`` marker (the only one we use) holds here."""
    _, _, marker = requirement.partition(";")
    return "win32" not in marker or sys.platform != "win32"


def relocate_scripts(app: AppPython, names: Sequence[str]) -> None:
    """Point console scripts pip wrote with a build-directory shebang at ``python3`` on PATH."""
    bin_dir = app.build_path.parent
    build_python = str(app.build_path)
    for name in names:
        text = _read_or_empty(bin_dir / name)
        first, _, rest = text.partition("\n")
        if first.startswith("#!") and build_python in first:
            safefs.write_text(bin_dir, name, "#!/usr/bin/env python3\n" + rest, mode=0o755)


def python_version(app: AppPython) -> tuple[int, int, int]:
    """The app's Python version (this process runs as the app's Python during compile)."""
    if Path(sys.executable).resolve() == app.build_path.resolve():
        return sys.version_info[:3]
    probe = _python(
        [str(app.build_path), ISOLATED, "-c", "import sys; print(*sys.version_info[:3])"]
    )
    probe.check_returncode()
    out = probe.stdout.split()
    major, minor, micro = (int(x) for x in out)
    return major, minor, micro
