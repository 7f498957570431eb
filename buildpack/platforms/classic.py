"""The classic buildpack adapter (Heroku Cedar, Dokku/herokuish, Scalingo).

* ``bin/compile BUILD_DIR CACHE_DIR ENV_DIR``: the shared build (:mod:`buildpack.core.build`)
  with the runtime installed into the app's Python (``BUILD_DIR/.heroku/python``), config
  vars read from ENV_DIR files, and run-time defaults in ``.profile.d``.
* ``bin/release BUILD_DIR``: YAML with default process types and add-ons to provision.
  Add-ons apply on an app's first deploy only. Process types mirror the Procfile in the slug
  (the user's, or the one compile wrote); ``release`` is left to the Procfile, which is the
  only place Heroku reads the release phase from.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

from buildpack import __version__, log, messages
from buildpack.core import build, procfile, safefs
from buildpack.core.envdir import read_env_dir
from buildpack.core.install.classic import find_app_python, install_runtime
from buildpack.core.install.runner import AppPython, install, python_version

REDIS_ADDON = "heroku-redis:mini"


def _quoted(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: safe for $PORT, ' #', ':' etc.
    return json.dumps(value)


def _state(build_dir: Path) -> dict[str, object]:
    """What compile saved; ``{}`` when it is missing or not ours (a repository's own file)."""
    try:
        state = json.loads(safefs.read_text(build_dir / build.STATE_FILE, build.MAX_STATE_BYTES))
    except (OSError, ValueError, RecursionError):
        return {}
    return state if isinstance(state, dict) else {}


def release_yaml(build_dir: Path) -> str:
    """The YAML document ``bin/release`` prints."""
    try:
        text = safefs.read_text(build_dir / "Procfile", procfile.MAX_PROCFILE_BYTES)
    except OSError:  # missing, or refused (compile explained why)
        text = ""
    processes = procfile.parse(text)
    processes.pop("release", None)
    addons = [REDIS_ADDON] if _state(build_dir).get("redis_addon") is True else []
    lines = ["---", "addons:" + ("" if addons else " []")]
    lines += [f"  - {addon}" for addon in addons]
    lines.append("default_process_types:" + ("" if processes else " {}"))
    lines += [f"  {name}: {_quoted(command)}" for name, command in processes.items()]
    return "\n".join(lines) + "\n"


def compile_app(build_dir: Path, cache_dir: Path, env_dir: Path | None, bp_dir: Path) -> int:
    """Entry point for ``bin/compile``; returns the process exit code."""
    try:
        _compile(build_dir.resolve(), cache_dir.resolve(), env_dir, bp_dir.resolve())
    except build.BuildFailed:
        return 1
    return 0


def _compile(build_dir: Path, cache_dir: Path, env_dir: Path | None, bp_dir: Path) -> None:
    config_vars = read_env_dir(env_dir)
    build.detected(build_dir)
    if config_vars:
        log.detail(f"Config vars available to the build: {', '.join(sorted(config_vars))}")
    app = _app_python(build_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)

    log.step("Installing the channels-buildpack runtime into the app's Python")
    installed = build.guard_install(lambda: install_runtime(app, bp_dir, cache_dir, config_vars))
    importlib.invalidate_caches()
    how = "installed" if installed else "already installed (cached)"
    log.detail(f"channels-buildpack {__version__} {how}: `channels-buildpack web|worker` on PATH")

    plan = build.analyse(build_dir, config_vars)
    build.install_server_packages(
        plan, config_vars, lambda wanted: install(app, wanted, cache_dir, config_vars)
    )
    build.write_generated_asgi(plan, build_dir)
    build.write_procfile(plan, build_dir)
    _write_profile(build_dir)
    build.write_state(plan, build_dir, config_vars)
    log.step("Done: " + build.summary(plan))


def _app_python(build_dir: Path) -> AppPython:
    """The app's Python that heroku/python left in the build (3.10+), or a build failure."""
    app = find_app_python(build_dir, os.environ.get("PATH"))
    if app is None:
        raise build.fail(messages.NO_APP_PYTHON)
    version = python_version(app)
    if version < (3, 10):
        raise build.fail(messages.OLD_PYTHON.format(version=".".join(map(str, version))))
    where = "run-time path" if app.runtime_valid else "build path; scripts relocated"
    log.detail(f"Using the app's Python {'.'.join(map(str, version))} ({where})")
    return app


def _write_profile(build_dir: Path) -> None:
    # late import: needs packaging, which this build installs first
    from buildpack.core import generate

    build.write_file(build_dir, generate.PROFILE_SCRIPT, generate.profile_script())
    log.step(f"Wrote {generate.PROFILE_SCRIPT} (runtime defaults; config vars win)")
