"""What the CNB adapter writes under ``$CNB_LAYERS_DIR``, per Buildpack API 0.10.

* ``runtime/`` (``launch`` + ``cache``): our package and its missing dependencies in
  ``site/`` (never in heroku/python's venv), a ``channels-buildpack`` command in ``bin/``
  (on ``PATH`` at launch), the launch environment (``env.launch/``: ``PYTHONPATH`` with its
  ``.delim``; ``.default`` files, so a config var always wins) and ``exec.d/web/``.
  A rebuild with the same buildpack source, Python and app dependencies reuses it as is.
* ``cache/`` (``cache`` only), kept between builds: pip's cache, our built wheel, the wheels
  of our runtime's pins (:mod:`buildpack.core.install.wheelcache`) and the build's bytecode
  (``bin/build`` sets ``pycache_prefix`` there).
* ``launch.toml``: process types as command arrays (no ``direct`` key since API 0.9).

Only the standard library is imported at module level: ``packaging`` (which the analysis
modules import) may only become importable once :meth:`RuntimeLayer.install_runtime` ran.
TOML is written by hand (a few keys; strings as JSON strings, which are valid TOML basic
strings) because the build may run on Python 3.10, which has no ``tomllib``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from buildpack.core.install.cnb import install_into, install_runtime_into
from buildpack.core.install.runner import AppPython, pip_env
from buildpack.core.install.runtime_package import (
    installed_distributions,
    missing_runtime_dependencies,
    runtime_wheel,
    source_digest,
)
from buildpack.core.resources import read_template

RUNTIME = "runtime"
CACHE = "cache"
EXEC_D_WEB = "exec.d/web/web-concurrency"
COMMAND = "channels-buildpack"


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(value)


def toml_array(values: list[str]) -> str:
    """A TOML array of basic strings."""
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def read_toml(path: Path) -> dict[str, object]:
    """Parse *path*; ``{}`` when it is missing, invalid or no TOML parser is available."""
    if sys.version_info >= (3, 11):
        import tomllib as toml
    else:  # pragma: no cover - Python 3.10: tomli comes with our runtime (or is absent)
        try:
            import tomli as toml
        except ImportError:
            return {}
    try:
        data: dict[str, object] = toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def write_layer_toml(path: Path, types: Mapping[str, bool], metadata: Mapping[str, str]) -> None:
    """``<layer>.toml``: ``[types]`` and string ``[metadata]``."""
    lines = ["[types]"]
    lines += [f"{name} = {str(value).lower()}" for name, value in types.items()]
    lines += ["", "[metadata]"]
    lines += [f"{key} = {toml_string(value)}" for key, value in metadata.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Process:
    """One ``[[processes]]`` entry."""

    type: str
    command: list[str]
    args: list[str] = field(default_factory=list)
    default: bool = False

    def toml(self) -> str:
        """The entry as TOML lines."""
        lines = ["[[processes]]", f"type = {toml_string(self.type)}"]
        lines.append(f"command = {toml_array(self.command)}")
        lines.append(f"args = {toml_array(self.args)}")
        lines.append(f"default = {str(self.default).lower()}")
        return "\n".join(lines)

    def display(self) -> str:
        """How the build log shows it."""
        return " ".join([Path(self.command[0]).name, *self.command[1:], *self.args])


def write_launch_toml(path: Path, processes: list[Process]) -> None:
    """``launch.toml`` with *processes* (an empty file when there are none)."""
    path.write_text("\n\n".join(p.toml() for p in processes) + "\n", encoding="utf-8")


class RuntimeLayer:
    """Our launch layer: install (or reuse) the runtime, then write its launch config."""

    def __init__(
        self, layers_dir: Path, bp_dir: Path, app: AppPython, config_vars: Mapping[str, str]
    ) -> None:
        self.path = layers_dir / RUNTIME
        self.toml_path = layers_dir / f"{RUNTIME}.toml"
        self.cache = layers_dir / CACHE
        self.bp_dir = bp_dir
        self.app = app
        self.config_vars = config_vars
        self.site = self.path / "site"
        self.script = self.path / "bin" / COMMAND
        self.metadata: dict[str, str] = {}
        self._server_seen = False

    def _runtime_key(self) -> str:
        """What the installed runtime depends on: our source, the Python, the app's packages."""
        parts = [source_digest(self.bp_dir), sys.version, *installed_distributions()]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def install_runtime(self) -> bool:
        """Our package and its missing dependencies into ``site/``; True when reused."""
        key = self._runtime_key()
        self.metadata = {"runtime": key, "server": ""}
        self._make_importable()
        restored = read_toml(self.toml_path).get("metadata")
        restored = restored if isinstance(restored, dict) else {}
        if restored.get("runtime") == key and self.site.is_dir():
            self.metadata["server"] = str(restored.get("server", ""))
            return True
        self._install_fresh([])
        return False

    def install_server_packages(self, requirements: list[str]) -> None:
        """Pinned server packages the app lacks (Daphne, channels-redis, gunicorn)."""
        self._server_seen = True
        wanted = " ".join(sorted(requirements))
        if self.metadata.get("server") == wanted:
            return
        if self.metadata.get("server"):  # a different set than last time: start clean
            self._install_fresh(requirements)
        else:
            self._install(requirements)
        self.metadata["server"] = wanted

    def _install_fresh(self, server: list[str]) -> None:
        """Our wheel and the runtime dependencies the app lacks (one pip run: they need
        nothing but Django), then *server* packages, resolved against the app's Python."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.site.mkdir(parents=True)
        self.cache.mkdir(exist_ok=True)
        wheel = runtime_wheel(
            self.bp_dir, self.cache, self.app, pip_env(self.cache, self.config_vars)
        )
        wanted = [str(wheel), *missing_runtime_dependencies()]
        install_runtime_into(self.app, wanted, self.site, self.cache, self.config_vars)
        if server:
            self._install(server)
        importlib.invalidate_caches()  # site/ changed under a sys.path entry of this build

    def _install(self, requirements: list[str]) -> None:
        install_into(self.app, requirements, self.site, self.cache, self.config_vars)
        importlib.invalidate_caches()

    def _make_importable(self) -> None:
        """The rest of this build imports ``packaging`` & co, possibly from ``site/``."""
        if str(self.site) not in sys.path:
            sys.path.append(str(self.site))

    def finish(self) -> None:
        """Write the command, the launch environment, exec.d and the layer's TOML."""
        if self.metadata.get("server") and not self._server_seen:
            self._install_fresh([])  # the app now has every server package: drop ours
            self.metadata["server"] = ""
        self.script.parent.mkdir(parents=True, exist_ok=True)
        self.script.write_text(
            Template(read_template("cnb/channels-buildpack")).substitute(python=sys.executable),
            encoding="utf-8",
        )
        self.script.chmod(0o755)
        (self.site / "sitecustomize.py").write_text(
            read_template("cnb/sitecustomize.py"), encoding="utf-8"
        )
        env = self.path / "env.launch"
        if env.exists():
            shutil.rmtree(env)
        env.mkdir()
        (env / "PYTHONPATH.prepend").write_text(str(self.site), encoding="utf-8")
        (env / "PYTHONPATH.delim").write_text(":", encoding="utf-8")
        # late import: needs packaging, which this build installs first
        from buildpack.core import generate

        for name, value in generate.runtime_defaults().items():
            (env / f"{name}.default").write_text(value, encoding="utf-8")
        exec_d = self.path / EXEC_D_WEB
        exec_d.parent.mkdir(parents=True, exist_ok=True)
        exec_d.write_text(read_template("cnb/web-concurrency.sh"), encoding="utf-8")
        exec_d.chmod(0o755)
        write_layer_toml(
            self.toml_path, {"launch": True, "build": False, "cache": True}, self.metadata
        )
        self.cache.mkdir(exist_ok=True)
        write_layer_toml(self.cache.with_suffix(".toml"), {"cache": True}, {})
