"""Build fixture apps through the CNB lifecycle emulation, with stand-ins for Heroku's CNBs.

The group is the one the README documents: ``heroku/python`` -> ``channels-buildpack`` ->
``heroku/procfile`` (optional here, so an app without a Procfile passes detection, as a
user would leave it out). The stand-ins are real buildpack directories (``buildpack.toml``,
``bin/detect``, ``bin/build``) generated at test time:

* ``heroku/python`` (``cnb.md`` §2): detects the files the real one does; builds a
  ``python`` layer (build+launch+cache: the interpreter, ``PYTHONUNBUFFERED``), for pip
  apps a ``pip`` layer (build+cache, not launch: pip installed for the user base
  ``PYTHONUSERBASE`` = the layer, its ``bin/pip`` on the build ``PATH``, as the real one's
  ``pip install --user``) and a ``venv`` layer (build+launch: a real virtualenv made
  without pip, holding the app's dependencies, ``VIRTUAL_ENV``; ``PIP_PYTHON`` /
  ``UV_PROJECT_ENVIRONMENT`` at build time). The interpreter is the one the app asks for
  on this machine: in a Debian root, Debian's, whose ``ensurepip`` has no wheel;
* ``heroku/procfile`` (§3.4): passes iff a ``Procfile`` exists; every entry becomes a
  ``bash -c`` process, ``web`` (or a single entry) the default.

Our buildpack is a read-only copy of this repository's buildpack files (platforms mount
buildpacks read-only), so a write into the buildpack directory fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support import lockfile
from tests.support.cnb import Buildpack, Lifecycle, escape_id
from tests.support.platform import IGNORED, REPO, python_for, system_path, uv_binary
from tests.support.procs import ManagedProcess, ProcessGroup

OUR_FILES = (
    "bin",
    "buildpack",
    "templates",
    "Procfile.template",
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "buildpack.toml",
    "package.toml",
)
RUN_IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PYTHON_DETECT_FILES = (
    ".python-version",
    "__init__.py",
    "app.py",
    "main.py",
    "manage.py",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "pyproject.toml",
    "requirements.txt",
    "runtime.txt",
    "setup.cfg",
    "setup.py",
    "server.py",
    "uv.lock",
)
STANDIN_BUILD = """#!/usr/bin/env bash
set -euo pipefail
exec {python} -I -c 'import sys; sys.path.insert(0, sys.argv.pop(1)); \
from tests.support.cnb_platform import {entry}; {entry}(sys.argv[1])' {repo} "$@"
"""
PROCFILE_KEY = re.compile(r"^([A-Za-z0-9_-]+):\s*(.*?)\s*$")
# How this machine reaches package indexes (a CA bundle for a TLS-inspecting proxy, local
# wheel mirrors). The lifecycle filters them out of the build env; the heroku/python
# stand-in needs them to download the app's packages, as the real one has its own network.
NETWORK_VARS = re.compile(r"^(SSL_CERT_\w+|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|PIP_\w+|UV_\w+)$")


def _write(path: Path, text: str, executable: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(0o755)


@dataclass(frozen=True)
class PythonStandIn:
    """How the heroku/python stand-in behaves: *base* replaces the interpreter the app asks
    for (None: :func:`python_for`); *pip_layer* False builds no ``pip`` layer."""

    base: str | None = None
    pip_layer: bool = True


def make_buildpacks(root: Path, stand_in: PythonStandIn) -> dict[str, Buildpack]:
    """The three buildpack directories under *root* (ours read-only)."""
    ours = root / "channels-buildpack"
    ours.mkdir(parents=True)
    for name in OUR_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, ours / name, ignore=IGNORED)
        elif source.is_file():
            shutil.copy2(source, ours / name)
    _read_only(ours)
    python = root / "heroku_python"
    _write(python / "buildpack.toml", _descriptor("heroku/python", "0.0.0-standin"))
    detect = " ".join(PYTHON_DETECT_FILES)
    _write(
        python / "bin" / "detect",
        f"#!/usr/bin/env bash\nfor f in {detect}; do [[ -e $f ]] && exit 0; done\nexit 100\n",
        executable=True,
    )
    build = STANDIN_BUILD.format(python=sys.executable, repo=REPO, entry="python_build")
    _write(python / "bin" / "build", build, executable=True)
    network = {k: v for k, v in os.environ.items() if NETWORK_VARS.match(k)}
    host = {"network": network, "home": str(Path.home()), "base": stand_in.base}
    _write(python / "host.json", json.dumps({**host, "pip_layer": stand_in.pip_layer}))
    procfile = root / "heroku_procfile"
    _write(procfile / "buildpack.toml", _descriptor("heroku/procfile", "0.0.0-standin"))
    _write(
        procfile / "bin" / "detect",
        "#!/usr/bin/env bash\n[[ -f Procfile ]] && exit 0\nexit 100\n",
        executable=True,
    )
    build = STANDIN_BUILD.format(python=sys.executable, repo=REPO, entry="procfile_build")
    _write(procfile / "bin" / "build", build, executable=True)
    return {
        "python": Buildpack.load(python),
        "ours": Buildpack.load(ours),
        "procfile": Buildpack.load(procfile),
    }


def _descriptor(bp_id: str, version: str) -> str:
    return f'api = "0.10"\n\n[buildpack]\nid = "{bp_id}"\nversion = "{version}"\n'


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


# -- the stand-ins' bin/build (run by their shims with this repository on sys.path) ---------


def _layer(layers: Path, name: str, types: str, env: dict[str, dict[str, str]]) -> Path:
    layer = layers / name
    layer.mkdir(parents=True, exist_ok=True)
    (layers / f"{name}.toml").write_text(f"[types]\n{types}\n", encoding="utf-8")
    for scope, values in env.items():
        for file_name, value in values.items():
            _write(layer / scope / file_name, value)
    return layer


def python_build(layers_dir: str) -> None:
    """heroku/python's stand-in: the interpreter layer and a venv with the app's packages."""
    from tests.support.platform import Platform

    layers, app = Path(layers_dir), Path.cwd()
    host = json.loads((Path(os.environ["CNB_BUILDPACK_DIR"]) / "host.json").read_text())
    os.environ.update(host["network"])  # only for this stand-in's own downloads
    os.environ["HOME"] = host["home"]  # where the test machine keeps its Pythons (pyenv)
    base = host["base"] or python_for(app)
    if base is None:
        print(f"no Python for {app / '.python-version'} on this machine", file=sys.stderr)
        raise SystemExit(1)
    python = _layer(
        layers,
        "python",
        "build = true\nlaunch = true\ncache = true",
        {
            "env": {"PYTHONUNBUFFERED.override": "1"},
            "env.build": {"SOURCE_DATE_EPOCH.default": "315532801"},
        },
    )
    (python / "bin").mkdir(exist_ok=True)
    for name in ("python", "python3"):
        link = python / "bin" / name
        link.unlink(missing_ok=True)  # a cached layer may point at another version
        link.symlink_to(base)
    venv = layers / "venv"
    uses_uv = (app / "uv.lock").is_file()
    uv = uv_binary()
    if host["pip_layer"] and not uses_uv and not (app / "poetry.lock").is_file():
        _pip_layer(layers, base, uv)
    build_env = (
        {"UV_PROJECT_ENVIRONMENT.override": str(venv)}
        if uses_uv
        else {"PIP_PYTHON.override": str(venv)}
    )
    _layer(
        layers,
        "venv",
        "build = true\nlaunch = true",
        {"env": {"VIRTUAL_ENV.override": str(venv)}, "env.build": build_env},
    )
    # uv makes venvs without pip, as heroku/python's `python -m venv --without-pip`
    subprocess.run([uv, "venv", "-q", "--allow-existing", "--python", base, str(venv)], check=True)
    # No bytecode for the whole venv (4 of the 5 s): a launch compiles what it imports.
    Platform._install(app, venv, uv, uses_uv, compile_bytecode=False)


def _pip_layer(layers: Path, base: str, uv: str) -> None:
    """pip as a user-site install of the base interpreter in a cached ``pip`` layer (the
    lock's pip; the real one installs its own curated version the same way)."""
    layer = _layer(
        layers,
        "pip",
        "build = true\ncache = true",
        {
            "env.build": {
                "PIP_DISABLE_PIP_VERSION_CHECK.override": "1",
                "PYTHONUSERBASE.override": str(layers / "pip"),
            }
        },
    )
    if list(layer.glob("lib/python*/site-packages/pip/__main__.py")):
        return  # restored from the cache
    probe = [base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    minor = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    version = lockfile.versions("pip")[minor]
    # --prefix lays files out as --user does under PYTHONUSERBASE (lib/pythonX.Y/site-packages,
    # bin/pip with the base interpreter in its shebang), without needing pip to install pip.
    command = [uv, "pip", "install", "-q", "--python", base, "--prefix", str(layer)]
    subprocess.run([*command, "--no-deps", f"pip=={version}"], check=True)


def python_without_pip_wheel(base: str, dest: Path) -> str:
    """A Python like *base* whose ``ensurepip`` has no pip wheel at all (no ``_bundled``
    directory, no distribution wheel directory), and no pip: its own prefix *dest* with the
    binary copied and the standard library linked, ``ensurepip`` and the sysconfig data
    (``WHEEL_PKG_DIR``, Debian's ``/usr/share/python-wheels``) copied and emptied of wheels."""
    probe = "import sys, sysconfig; print(sys.executable, sysconfig.get_path('stdlib'))"
    found = subprocess.run([base, "-I", "-c", probe], capture_output=True, text=True, check=True)
    executable, stdlib = (Path(p) for p in found.stdout.split())
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(executable.resolve(), dest / "bin" / executable.name)
    lib = dest / "lib" / stdlib.name
    lib.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name in ("site-packages", "dist-packages", "__pycache__"):
            (lib / entry.name).mkdir()  # no pip; bytecode of the copies stays here
        elif entry.name == "ensurepip":
            shutil.copytree(entry, lib / entry.name, ignore=shutil.ignore_patterns("_bundled"))
        elif entry.name.startswith("_sysconfigdata") and entry.is_file():
            text = re.sub(r"'WHEEL_PKG_DIR': '[^']*'", "'WHEEL_PKG_DIR': ''", entry.read_text())
            (lib / entry.name).write_text(text)
        else:
            (lib / entry.name).symlink_to(entry)
    return str(dest / "bin" / executable.name)


BASIC_TOOLS = ("bash", "cat", "grep", "find", "dirname", "env", "uname", "mkdir")


def path_with_only(folder: Path, tools: tuple[str, ...] = BASIC_TOOLS) -> str:
    """A PATH of one *folder* holding links to *tools* alone (no python, no pip)."""
    folder.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found, f"{tool} is not on this machine's PATH"
        (folder / tool).symlink_to(found)
    return str(folder)


def procfile_build(layers_dir: str) -> None:
    """heroku/procfile's stand-in: every Procfile entry as a ``bash -c`` process."""
    entries: dict[str, str] = {}
    for line in Path("Procfile").read_text(encoding="utf-8").splitlines():
        match = PROCFILE_KEY.match(line)
        if match and match.group(2):
            entries[match.group(1).lower().replace("_", "-")] = match.group(2)
    lines = []
    for kind, command in entries.items():
        default = kind == "web" or len(entries) == 1
        lines += [
            "[[processes]]",
            f'type = "{kind}"',
            'command = ["bash", "-c"]',
            f"args = [{_toml_string(command)}]",
            f"default = {str(default).lower()}",
            "",
        ]
    (Path(layers_dir) / "launch.toml").write_text("\n".join(lines), encoding="utf-8")


def _toml_string(value: str) -> str:
    return json.dumps(value)


# -- the platform -------------------------------------------------------------------------


@dataclass
class CnbBuild:
    """One app built through the emulated lifecycle."""

    source: Path
    lifecycle: Lifecycle
    detected: bool
    built: bool
    config_vars: dict[str, str]

    @property
    def app_dir(self) -> Path:
        return self.lifecycle.app_dir

    @property
    def layers(self) -> Path:
        return self.lifecycle.layers_dir

    def output(self, buildpack_id: str = "channels-buildpack/channels") -> str:
        return self.lifecycle.output(buildpack_id)


class CnbPlatform:
    """Build apps with ``heroku/python`` -> ours -> ``heroku/procfile`` and run processes."""

    def __init__(
        self, root: Path, stand_in: PythonStandIn | None = None, build_path: str | None = None
    ) -> None:
        self.root = root
        self.build_path = build_path or system_path()  # the build image's PATH
        self.buildpacks = make_buildpacks(root / "buildpacks", stand_in or PythonStandIn())
        self.count = 0
        self.warm_cache: Path | None = None

    def group(self) -> list[tuple[Buildpack, bool]]:
        return [
            (self.buildpacks["python"], False),
            (self.buildpacks["ours"], False),
            (self.buildpacks["procfile"], True),
        ]

    def build(self, source: Path, config_vars: dict[str, str] | None = None) -> CnbBuild:
        """A first build of *source* (a fresh app dir, no cache)."""
        self.count += 1
        base = self.root / f"app{self.count}-{uuid.uuid4().hex[:6]}"
        app_dir = base / "workspace"
        shutil.copytree(source, app_dir, ignore=IGNORED, symlinks=True)
        config = dict(config_vars or {})
        lifecycle = Lifecycle(base, app_dir, self.group(), config)
        lifecycle.host_env["PATH"] = self.build_path
        self._seed_cache(lifecycle)
        build = self._run(CnbBuild(source, lifecycle, False, False, config))
        self._keep_warm_cache(build)
        return build

    def _seed_cache(self, lifecycle: Lifecycle) -> None:
        """Start a new app with our ``cache`` layer (pip's cache, our wheel) from an earlier
        build of this session, as after an earlier deploy: the first build runs cold, the
        rest skip re-downloading the same packages. Nothing else is shared between apps."""
        if self.warm_cache is None:
            return
        ours = lifecycle.cache_dir / escape_id(self.buildpacks["ours"].id)
        ours.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.warm_cache, ours / "cache", symlinks=True)
        (ours / "cache.toml").write_text("[metadata]\n", encoding="utf-8")

    def _keep_warm_cache(self, build: CnbBuild) -> None:
        cache = build.lifecycle.cache_dir / escape_id(self.buildpacks["ours"].id) / "cache"
        if self.warm_cache is None and build.built and cache.is_dir():
            self.warm_cache = self.root / "warm-cache"
            shutil.copytree(cache, self.warm_cache, symlinks=True)

    def rebuild(self, build: CnbBuild) -> CnbBuild:
        """Push the same source again: a fresh app dir, the cache from the last build."""
        shutil.rmtree(build.app_dir)
        shutil.copytree(build.source, build.app_dir, ignore=IGNORED, symlinks=True)
        build.lifecycle.outputs.clear()
        return self._run(build)

    @staticmethod
    def _run(build: CnbBuild) -> CnbBuild:
        build.detected = build.lifecycle.detect()
        build.built = build.detected and build.lifecycle.build()
        return build

    def launch_env(
        self,
        build: CnbBuild,
        process_type: str,
        *,
        dyno: str | None = None,
        port: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """The container env (config vars, PORT, DYNO) after the launcher's env and exec.d."""
        home = build.lifecycle.root / "home"
        env = {"PATH": RUN_IMAGE_PATH, "HOME": str(home), "LANG": "C.UTF-8", **build.config_vars}
        env["DYNO"] = dyno if dyno is not None else f"{process_type}.1"
        if not env["DYNO"]:
            del env["DYNO"]
        if port is not None:
            env["PORT"] = str(port)
        env.update(extra or {})
        return build.lifecycle.launch_env(process_type, env)

    def start(
        self,
        procs: ProcessGroup,
        build: CnbBuild,
        process_type: str,
        *,
        dyno: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        user_args: list[str] | None = None,
        command: str | None = None,
    ) -> ManagedProcess:
        """Launch *process_type* like ``/cnb/process/<type>`` does (exec, no shell added).
        Same signature as the classic ``Platform.start``, so ``Deployment`` drives both;
        *command* is not a CNB notion (processes come from launch.toml) and must be None."""
        assert command is None, "CNB processes come from launch.toml"
        launch_env = self.launch_env(build, process_type, dyno=dyno, port=port, extra=env)
        argv, cwd = build.lifecycle.launch_argv(process_type, launch_env, user_args)
        return procs.start(
            argv, env=launch_env, cwd=cwd, name=f"cnb-{build.app_dir.parent.name}-{process_type}"
        )
