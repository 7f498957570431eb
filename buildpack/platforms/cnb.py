"""The Cloud Native Buildpack adapter (Heroku Fir, ``pack build``, kpack): ``bin/build``.

Runs after heroku/python, as the app's Python (its venv is first on ``PATH``), in the app
directory, which is also where the app runs (CNB builds in place). The shared build
(:mod:`buildpack.core.build`) runs as on classic platforms; what differs is where its
results go:

* the runtime, and any server package the app does not declare, go into a layer of our
  own (:mod:`buildpack.platforms.cnb_layers`), never into heroku/python's layers;
* the settings layer reaches every process through that layer's launch environment
  instead of ``.profile.d`` (which CNB platforms do not run);
* processes go to ``launch.toml`` as command arrays that run our launchers directly, so
  SIGTERM reaches them; a type the user's Procfile defines is left to heroku/procfile;
* there is no ``bin/release``: a Channels app without Redis gets the add-on command to run.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from buildpack import __version__, log, messages
from buildpack.core import build
from buildpack.core.envdir import read_env_dir
from buildpack.core.install.runner import AppPython, python_version
from buildpack.platforms import cnb_layers

if TYPE_CHECKING:
    from buildpack.core.plan import Plan

DEFAULT_PORT = 8000  # the web launcher's default when $PORT is unset (a plain `docker run`)


def build_app(layers_dir: Path, platform_dir: Path | None, bp_dir: Path) -> int:
    """Entry point for ``bin/build``; returns the process exit code."""
    try:
        _build(Path.cwd().resolve(), layers_dir.resolve(), platform_dir, bp_dir.resolve())
    except build.BuildFailed:
        return 1
    return 0


def _build(app_dir: Path, layers_dir: Path, platform_dir: Path | None, bp_dir: Path) -> None:
    config_vars = read_env_dir(platform_dir / "env" if platform_dir else None)
    build.detected(app_dir)
    if config_vars:
        log.detail(f"Config vars available to the build: {', '.join(sorted(config_vars))}")
    app = _app_python()
    layer = cnb_layers.RuntimeLayer(layers_dir, bp_dir, app, config_vars)

    log.step("Installing the channels-buildpack runtime into its own layer")
    reused = build.guard_install(layer.install_runtime)
    how = "reused from the build cache" if reused else "installed"
    log.detail(f"channels-buildpack {__version__} {how} (layer {layer.path.name})")

    plan = build.analyse(app_dir, config_vars)
    build.install_server_packages(plan, config_vars, layer.install_server_packages)
    build.write_generated_asgi(plan, app_dir)
    layer.finish()
    user_types = _user_process_types(plan)
    log.step(messages.CNB_PROCESSES)
    processes = process_entries(plan, layer, user_types)
    cnb_layers.write_launch_toml(layers_dir / "launch.toml", processes)
    build.write_state(plan, app_dir, config_vars)
    if build.wants_redis_addon(plan, config_vars):
        log.step(messages.CNB_REDIS_ADDON)
    log.step("Done: " + build.summary(plan))


def _app_python() -> AppPython:
    """This interpreter: bin/build runs as the ``python`` heroku/python put first on PATH."""
    app = AppPython(Path(sys.executable), sys.executable, True)
    version = python_version(app)
    if version < (3, 10):
        raise build.fail(messages.OLD_PYTHON.format(version=".".join(map(str, version))))
    log.detail(f"Using the app's Python {'.'.join(map(str, version))} ({sys.executable})")
    return app


def _user_process_types(plan: Plan) -> set[str]:
    """Types the user's Procfile defines (heroku/procfile launches those), with its lint."""
    if plan.procfile.source != "user":
        return set()
    types = set(plan.procfile.processes)
    log.step(messages.CNB_PROCFILE_TYPES.format(types=", ".join(sorted(types)) or "none"))
    for warning in plan.procfile.warnings:
        log.warn(warning)
    return types


def process_entries(
    plan: Plan, layer: cnb_layers.RuntimeLayer, user_types: set[str]
) -> list[cnb_layers.Process]:
    """``launch.toml`` processes: our generated commands as argument arrays.

    Our launchers run directly (no shell between the platform and them: SIGTERM reaches
    them). gunicorn needs ``[::]:$PORT`` spelled out (Fir routes over IPv6), so it runs as
    ``bash -c 'exec gunicorn ...'``: the shell expands ``$PORT`` and is replaced by gunicorn.
    ``release`` is only offered where the classic build would write it: no Procfile at all.
    """
    # late import: needs packaging, which this build installs first
    from buildpack.core import generate

    commands = generate.process_commands(plan)
    wanted = {"web": commands.web, "worker": commands.worker, "release": commands.release}
    processes = []
    for kind, command in wanted.items():
        if not command or kind in user_types or (kind == "release" and user_types):
            continue
        words = shlex.split(command)
        if words[0] == generate.CLI:
            process = cnb_layers.Process(kind, [str(layer.script)], words[1:], kind == "web")
        else:
            bind = f'--bind "[::]:${{PORT:-{DEFAULT_PORT}}}"'
            script = f"exec {shlex.join(words[:1])} {bind} {shlex.join(words[1:])}"
            process = cnb_layers.Process(kind, ["bash", "-c"], [script], kind == "web")
        processes.append(process)
        log.detail(f"{kind}: {process.display()}")
    return processes
