"""A Cloud Native Buildpack lifecycle in Python: detect, build, export, launch.

No ``pack``/Docker here (and the lifecycle binaries are not in any registry we reach), so
the tests run buildpacks the way lifecycle 0.21 does for Buildpack API 0.10, with the
rules read from its source (``env/{env,build,launch}.go``, ``buildpack/build.go``,
``launch/{launcher,exec_d}.go``; summarised in ``../shared/docs/cnb.md`` §1.8, §1.9, §4.2):

* build env: the host environment filtered to an include list plus the path variables;
  per ``bin/build``, user env files from ``<platform>/env`` (names verbatim; path variables
  prepended with ``:``) unless the buildpack sets ``clear-env``;
* after each ``bin/build``: every ``<layer>.toml`` (``[types]`` only; top-level flags are an
  error), a layer with no type renamed ``<layer>.ignore``, ``build`` layers put their
  ``bin``/``lib``/``include``/``pkgconfig`` dirs on the path variables and apply ``env/``
  then ``env.build/`` for later buildpacks; ``launch.toml`` validated (command arrays, no
  ``direct``, one default) and merged (a later buildpack's type replaces an earlier one);
* export: only ``launch`` layers stay in the image; ``cache`` layers go to the cache with
  their ``[metadata]``; a rebuild restores them (launch-only layers: metadata only);
* launch: the container env minus the launcher's own variables; for each buildpack, its
  launch layers' ``bin``/``lib`` roots, then ``env/``, ``env.launch/``,
  ``env.launch/<type>/``; then every ``exec.d`` program (TOML ``NAME = "value"`` on fd 3);
  then ``command + (user args or args)`` with ``command[0]`` looked up on the new ``PATH``.

Env file rules (one function for build, launch and operator env): the name is the file
name up to the first ``.``, the suffix picks the action (none: override; ``.default`` only
sets an empty or unset variable; ``.prepend``/``.append`` use the delimiter from
``NAME.delim`` in the same directory, none at all without it; other suffixes, including
``.delim`` itself, are ignored); contents are raw (never stripped); files in name order.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PATH_ROOTS_BUILD = {
    "bin": ("PATH",),
    "lib": ("LD_LIBRARY_PATH", "LIBRARY_PATH"),
    "include": ("CPATH",),
    "pkgconfig": ("PKG_CONFIG_PATH",),
}
PATH_ROOTS_LAUNCH = {"bin": ("PATH",), "lib": ("LD_LIBRARY_PATH",)}
BUILD_ENV_INCLUDE = frozenset(
    {"CNB_STACK_ID", "HOSTNAME", "HOME", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY"}
    | {"http_proxy", "NO_PROXY", "no_proxy"}
    | {name for names in PATH_ROOTS_BUILD.values() for name in names}
)
LAUNCH_ENV_EXCLUDE = frozenset(
    {"CNB_LAYERS_DIR", "CNB_APP_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API"}
    | {"CNB_DEPRECATION_MODE"}
)
ENV_ACTIONS = ("override", "default", "prepend", "append")
RESERVED_LAYER_FILES = ("launch.toml", "build.toml", "store.toml")
DETECT_PASS, DETECT_FAIL = 0, 100


class LifecycleError(Exception):
    """The lifecycle refuses what a buildpack did (the real one fails the build)."""


def apply_env_dir(env: dict[str, str], directory: Path, default_action: str = "override") -> None:
    """Apply the env files of *directory* to *env* (lifecycle ``addEnvDir``)."""
    if not directory.is_dir():
        return
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.is_dir():  # directories, and symlinks to directories, are skipped
            continue
        name, dot, suffix = entry.name.partition(".")
        action = suffix if dot else default_action
        if action not in ENV_ACTIONS:
            continue  # ".delim" and unknown suffixes
        value = entry.read_text(encoding="utf-8")
        delim_file = directory / f"{name}.delim"
        delim = delim_file.read_text(encoding="utf-8") if delim_file.is_file() else ""
        old = env.get(name, "")
        if action == "override":
            env[name] = value
        elif action == "default":
            if old == "":
                env[name] = value
        elif action == "prepend":
            env[name] = value + (delim + old if old else "")
        else:
            env[name] = (old + delim if old else "") + value


def add_root_dir(env: dict[str, str], layer: Path, roots: dict[str, tuple[str, ...]]) -> None:
    """Prepend the layer's existing ``bin``/``lib``/... dirs to their path variables."""
    for sub, names in roots.items():
        child = layer / sub
        if child.is_dir():
            for name in names:
                old = env.get(name, "")
                env[name] = str(child) + (os.pathsep + old if old else "")


def build_base_env(environ: dict[str, str]) -> dict[str, str]:
    """The build's starting env: the include list and the path variables only."""
    return {k: v for k, v in environ.items() if k in BUILD_ENV_INCLUDE}


def with_user_env(env: dict[str, str], platform_dir: Path) -> dict[str, str]:
    """``WithOverrides``: user env files (names verbatim) override, path vars are prepended."""
    result = dict(env)
    user = platform_dir / "env"
    if not user.is_dir():
        return result
    path_vars = {n for names in PATH_ROOTS_BUILD.values() for n in names}
    for entry in sorted(user.iterdir(), key=lambda p: p.name):
        if entry.is_dir():
            continue
        value = entry.read_text(encoding="utf-8")
        old = result.get(entry.name, "")
        if entry.name in path_vars:
            result[entry.name] = value + (os.pathsep + old if old else "")
        else:
            result[entry.name] = value
    return result


def escape_id(buildpack_id: str) -> str:
    """The layers directory name of a buildpack id (``launch.EscapeID``)."""
    return buildpack_id.replace("/", "_")


@dataclass(frozen=True)
class Buildpack:
    """A buildpack directory and what its ``buildpack.toml`` says."""

    path: Path
    id: str
    version: str
    api: str
    clear_env: bool = False

    @classmethod
    def load(cls, path: Path) -> Buildpack:
        """Read ``buildpack.toml`` (rejecting what API 0.10 rejects)."""
        data = tomllib.loads((path / "buildpack.toml").read_text(encoding="utf-8"))
        info = data["buildpack"]
        if "stacks" in data:
            raise LifecycleError(f"{info['id']}: [[stacks]] is deprecated since API 0.10")
        return cls(path, info["id"], info["version"], data["api"], info.get("clear-env", False))


@dataclass
class Process:
    """A merged process type."""

    type: str
    command: list[str]
    args: list[str]
    default: bool
    buildpack_id: str
    working_dir: str = ""


@dataclass
class StepOutput:
    """One buildpack executable's outcome."""

    buildpack: str
    returncode: int
    output: str
    seconds: float = 0.0
    phase: str = ""


@dataclass
class Lifecycle:
    """Detect, build, export and launch one app directory with an ordered group."""

    root: Path
    app_dir: Path
    group: list[tuple[Buildpack, bool]]  # (buildpack, optional)
    user_env: dict[str, str] = field(default_factory=dict)
    arch: str = "amd64"
    detected: list[Buildpack] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)
    default_process: str | None = None
    outputs: list[StepOutput] = field(default_factory=list)
    # (buildpack that just built, buildpack whose layers) -> tree digest, after each bin/build
    layer_digests: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.platform_dir = self.root / "platform"
        self.layers_dir = self.root / "layers"
        self.cache_dir = self.root / "cache"
        (self.platform_dir / "env").mkdir(parents=True, exist_ok=True)
        for name, value in self.user_env.items():
            (self.platform_dir / "env" / name).write_text(value, encoding="utf-8")
        self.host_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root / "home")}
        (self.root / "home").mkdir(exist_ok=True)

    def target_env(self) -> dict[str, str]:
        """``CNB_TARGET_*`` (Buildpack API 0.10)."""
        return {
            "CNB_TARGET_OS": "linux",
            "CNB_TARGET_ARCH": self.arch,
            "CNB_TARGET_DISTRO_NAME": "ubuntu",
            "CNB_TARGET_DISTRO_VERSION": "24.04",
        }

    def _buildpack_env(
        self, buildpack: Buildpack, env: dict[str, str], **cnb: str
    ) -> dict[str, str]:
        """*env* with the user env (unless ``clear-env``), the CNB and the target variables."""
        base = env if buildpack.clear_env else with_user_env(env, self.platform_dir)
        dirs = {
            "CNB_BUILDPACK_DIR": str(buildpack.path),
            "CNB_PLATFORM_DIR": str(self.platform_dir),
        }
        return {**base, **dirs, **cnb, **self.target_env()}

    # -- detect ------------------------------------------------------------------------------

    def detect(self) -> bool:
        """Run every ``bin/detect``; True when the group passes (optional ones may drop out)."""
        self.detected = []
        base = build_base_env(self.host_env)
        for buildpack, optional in self.group:
            plan = self.root / "detect" / escape_id(buildpack.id) / "plan.toml"
            plan.parent.mkdir(parents=True, exist_ok=True)
            plan.write_text("")
            env = self._buildpack_env(buildpack, base, CNB_BUILD_PLAN_PATH=str(plan))
            argv = [str(buildpack.path / "bin" / "detect"), str(self.platform_dir), str(plan)]
            code = self._run(buildpack.id, argv, env, "detect")
            _check_plan(buildpack, plan)
            if code == DETECT_PASS:
                self.detected.append(buildpack)
            elif not optional:
                return False  # a required fail (100) or error (anything else) fails the group
        return True

    # -- build -------------------------------------------------------------------------------

    def build(self) -> bool:
        """``restore`` from the cache, run every detected ``bin/build``, then ``export``."""
        self._restore()
        env = build_base_env(self.host_env)
        self.processes, self.default_process = {}, None
        for buildpack in self.detected:
            layers = self.layers_dir / escape_id(buildpack.id)
            layers.mkdir(parents=True, exist_ok=True)
            plan = self.root / "build-plans" / escape_id(buildpack.id) / "plan.toml"
            plan.parent.mkdir(parents=True, exist_ok=True)
            plan.write_text("")
            run_env = self._buildpack_env(
                buildpack, env, CNB_BP_PLAN_PATH=str(plan), CNB_LAYERS_DIR=str(layers)
            )
            argv = [str(buildpack.path / "bin" / "build"), str(layers), str(self.platform_dir)]
            if self._run(buildpack.id, [*argv, str(plan)], run_env, "build") != 0:
                return False
            for layer, types in layer_types(layers).items():
                if not any(types.values()):
                    if layer.is_dir():
                        layer.rename(layer.with_name(layer.name + ".ignore"))
                elif types["build"]:
                    add_root_dir(env, layer, PATH_ROOTS_BUILD)
                    apply_env_dir(env, layer / "env")
                    apply_env_dir(env, layer / "env.build")
            self._merge_launch(buildpack, layers / "launch.toml")
            for other in self.detected:
                digest = tree_digest(self._layers_of(other))
                self.layer_digests[(buildpack.id, other.id)] = digest
        self._export()
        return True

    def _merge_launch(self, buildpack: Buildpack, path: Path) -> None:
        if not path.is_file():
            return
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        entries = data.get("processes", [])
        if sum(1 for e in entries if e.get("default")) > 1:
            raise LifecycleError(f"{buildpack.id}: more than one default process in launch.toml")
        for entry in entries:
            check_process_entry(buildpack.id, entry)
            process = Process(
                entry["type"],
                list(entry["command"]),
                list(entry.get("args", [])),
                bool(entry.get("default", False)),
                buildpack.id,
                entry.get("working-dir", ""),
            )
            self.processes[process.type] = process
            if process.default:
                self.default_process = process.type
            elif self.default_process == process.type:
                self.default_process = None

    def _export(self) -> None:
        """Cache layers to the cache (with their metadata); only launch layers stay."""
        for buildpack in self.detected:
            layers = self.layers_dir / escape_id(buildpack.id)
            cached = self.cache_dir / escape_id(buildpack.id)
            if cached.exists():
                shutil.rmtree(cached)
            cached.mkdir(parents=True)
            for layer, types in layer_types(layers).items():
                metadata = layer.with_suffix(".toml").read_text(encoding="utf-8")
                if types["cache"] and layer.is_dir():
                    shutil.copytree(layer, cached / layer.name, symlinks=True)
                    (cached / f"{layer.name}.toml").write_text(metadata, encoding="utf-8")
                elif types["launch"]:
                    (cached / f"{layer.name}.metadata.toml").write_text(metadata)
                if not types["launch"]:
                    if layer.is_dir():
                        shutil.rmtree(layer)
                    layer.with_suffix(".toml").unlink()

    def _restore(self) -> None:
        """A rebuild starts from the cache: cached layers with metadata, launch-only layers'
        metadata, nothing else (``[types]`` are not restored: the buildpack writes them)."""
        if self.layers_dir.exists():
            shutil.rmtree(self.layers_dir)
        for buildpack in self.detected:
            cached = self.cache_dir / escape_id(buildpack.id)
            layers = self.layers_dir / escape_id(buildpack.id)
            layers.mkdir(parents=True)
            if not cached.is_dir():
                continue
            for toml_file in cached.glob("*.toml"):
                name = toml_file.name.removesuffix(".metadata.toml").removesuffix(".toml")
                metadata = tomllib.loads(toml_file.read_text(encoding="utf-8")).get("metadata")
                (layers / f"{name}.toml").write_text(_metadata_only(metadata), encoding="utf-8")
                if (cached / name).is_dir() and not toml_file.name.endswith(".metadata.toml"):
                    shutil.copytree(cached / name, layers / name, symlinks=True)

    # -- launch ------------------------------------------------------------------------------

    def launch_env(self, process_type: str, environ: dict[str, str]) -> dict[str, str]:
        """The env a process of *process_type* execs with (launcher ``doEnv`` + ``doExecD``)."""
        env = {k: v for k, v in environ.items() if k not in LAUNCH_ENV_EXCLUDE}
        launch_layers = [
            (
                b,
                [
                    layer
                    for layer, types in layer_types(self._layers_of(b)).items()
                    if types["launch"]
                ],
            )
            for b in self.detected
        ]
        for _buildpack, layers in launch_layers:
            for layer in layers:
                add_root_dir(env, layer, PATH_ROOTS_LAUNCH)
            for layer in layers:
                apply_env_dir(env, layer / "env")
                apply_env_dir(env, layer / "env.launch")
                apply_env_dir(env, layer / "env.launch" / process_type)
        for _buildpack, layers in launch_layers:
            for layer in layers:
                for directory in (layer / "exec.d", layer / "exec.d" / process_type):
                    for program in sorted(p for p in _files(directory)):
                        env.update(run_exec_d(program, env, self.app_dir))
        return env

    def launch_argv(
        self, process_type: str, env: dict[str, str], user_args: list[str] | None = None
    ) -> tuple[list[str], Path]:
        """``(argv, cwd)`` the launcher execs for *process_type*."""
        process = self.processes[process_type]
        argv = [*process.command, *(user_args if user_args else process.args)]
        resolved = shutil.which(argv[0], path=env.get("PATH", ""))
        if resolved is None:
            raise LifecycleError(f"{argv[0]}: not found on the launch PATH")
        cwd = Path(process.working_dir) if process.working_dir else self.app_dir
        return [resolved, *argv[1:]], cwd

    def _layers_of(self, buildpack: Buildpack) -> Path:
        return self.layers_dir / escape_id(buildpack.id)

    def _run(self, who: str, argv: list[str], env: dict[str, str], phase: str) -> int:
        started = time.monotonic()
        result = subprocess.run(
            argv,
            cwd=self.app_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
            check=False,
        )
        elapsed = time.monotonic() - started
        self.outputs.append(StepOutput(who, result.returncode, result.stdout, elapsed, phase))
        return result.returncode

    def output(self, buildpack_id: str) -> str:
        """Everything *buildpack_id*'s executables printed, in order."""
        return "".join(o.output for o in self.outputs if o.buildpack == buildpack_id)

    def seconds(self, buildpack_id: str, phase: str) -> float | None:
        """How long *buildpack_id*'s last ``bin/<phase>`` took."""
        runs = [o for o in self.outputs if o.buildpack == buildpack_id and o.phase == phase]
        return runs[-1].seconds if runs else None


def layer_types(layers: Path) -> dict[Path, dict[str, bool]]:
    """``{layer dir: types}`` for every ``<layer>.toml`` of a buildpack, in name order."""
    found: dict[Path, dict[str, bool]] = {}
    if not layers.is_dir():
        return found
    for toml_file in sorted(layers.glob("*.toml")):
        if toml_file.name in RESERVED_LAYER_FILES or ".sbom." in toml_file.name:
            continue
        data = tomllib.loads(toml_file.read_text(encoding="utf-8"))
        if any(key in data for key in ("launch", "build", "cache")):
            raise LifecycleError(
                f"the launch, cache and build flags should be in the types table of {toml_file}"
            )
        types = data.get("types", {})
        found[toml_file.with_suffix("")] = {
            key: bool(types.get(key, False)) for key in ("launch", "build", "cache")
        }
    return found


def tree_digest(root: Path) -> str:
    """A digest of every path, file content and symlink target under *root*."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def check_process_entry(buildpack_id: str, entry: dict[str, Any]) -> None:
    """What lifecycle rejects in a ``[[processes]]`` entry for Buildpack API >= 0.9."""
    if "direct" in entry:
        raise LifecycleError(f"{buildpack_id}: process.direct is not supported on this API")
    if not isinstance(entry.get("command"), list) or not entry["command"]:
        raise LifecycleError(f"{buildpack_id}: process command must be a non-empty array")
    if not all(isinstance(word, str) for word in [*entry["command"], *entry.get("args", [])]):
        raise LifecycleError(f"{buildpack_id}: process command and args must be strings")
    allowed = {"type", "command", "args", "default", "working-dir"}
    if set(entry) - allowed:
        raise LifecycleError(f"{buildpack_id}: unknown process keys {sorted(set(entry) - allowed)}")


def run_exec_d(program: Path, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """Run one exec.d program with fd 3 as a pipe; its TOML output sets variables."""
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            ["bash", "-c", 'exec "$0" 3>&"$1"', str(program), str(write_fd)],
            env=env,
            cwd=cwd,
            pass_fds=(write_fd,),
        )
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        output = pipe.read().decode("utf-8")
    if process.wait(timeout=30) != 0:
        raise LifecycleError(f"failed to execute exec.d file at path '{program}'")
    values = tomllib.loads(output)
    if not all(isinstance(v, str) for v in values.values()):
        raise LifecycleError(f'exec.d output of {program} must be NAME = "string" pairs')
    return values


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if not p.is_dir()]


def _check_plan(buildpack: Buildpack, plan: Path) -> None:
    text = plan.read_text(encoding="utf-8") if plan.is_file() else ""
    data = tomllib.loads(text) if text.strip() else {}
    for require in data.get("requires", []):
        if "version" in require:
            raise LifecycleError(f"{buildpack.id}: a top-level version in [[requires]] is an error")


def _metadata_only(metadata: object) -> str:
    if not isinstance(metadata, dict) or not metadata:
        return ""
    lines = ["[metadata]"]
    for key, value in metadata.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{_escape(value)}"')
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
