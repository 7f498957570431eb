"""``bin/compile BUILD_DIR CACHE_DIR ENV_DIR``: install the runtime, analyse, generate.

Runs as the app's Python (``BUILD_DIR/.heroku/python``) with this buildpack on PYTHONPATH.
Only the standard library is imported until the runtime (and with it ``packaging``) has
been installed into the app's Python; analysis modules are imported after that.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from buildpack import __version__, log, messages, pins
from buildpack.detect import detect
from buildpack.envdir import read_env_dir
from buildpack.install import (
    AppPython,
    InstallError,
    find_app_python,
    install,
    install_runtime,
    is_installed,
)
from buildpack.install import python_version as app_python_version
from buildpack.redact import redact_text

if TYPE_CHECKING:
    from buildpack.plan import Plan

STATE_DIR = ".channels-buildpack"
STATE_FILE = f"{STATE_DIR}/build.json"
REDIS_ADDON_VAR = "CHANNELS_BUILDPACK_REDIS_ADDON"
T = TypeVar("T")
_FALSY = ("0", "false", "no", "off")


class BuildFailed(Exception):
    """A user-facing build failure; the message has been printed."""


def run(build_dir: Path, cache_dir: Path, env_dir: Path | None, bp_dir: Path) -> int:
    """Entry point for ``bin/compile``; returns the process exit code."""
    try:
        _compile(build_dir.resolve(), cache_dir.resolve(), env_dir, bp_dir.resolve())
    except BuildFailed:
        return 1
    return 0


def _fail(message: str) -> BuildFailed:
    log.error(message)
    return BuildFailed(message)


def _compile(build_dir: Path, cache_dir: Path, env_dir: Path | None, bp_dir: Path) -> None:
    config_vars = read_env_dir(env_dir)
    label, reason = detect(str(build_dir))
    if label is None:
        raise _fail(messages.NOT_DJANGO.format(reason=reason))
    log.step(f"{label} app detected (channels-buildpack {__version__})")
    if config_vars:
        log.detail(f"Config vars available to the build: {', '.join(sorted(config_vars))}")
    app = _app_python(build_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)

    log.step("Installing the channels-buildpack runtime into the app's Python")
    installed = _guard_install(lambda: install_runtime(app, bp_dir, cache_dir, config_vars))
    importlib.invalidate_caches()
    how = "installed" if installed else "already installed (cached)"
    log.detail(f"channels-buildpack {__version__} {how}: `channels-buildpack web|worker` on PATH")

    from buildpack.analysis import analyze
    from buildpack.report import plan_text

    log.step("Analysing the project (static: none of your code is imported)")
    plan = analyze(build_dir, config_vars)
    log.detail(plan_text(plan))
    if plan.errors:
        raise _fail("\n".join(plan.errors))
    for warning in plan.warnings:
        log.warn(warning)

    _install_server_packages(plan, app, cache_dir, config_vars)
    _write_outputs(plan, build_dir, config_vars)
    log.step("Done: " + _summary(plan))


def _app_python(build_dir: Path) -> AppPython:
    app = find_app_python(build_dir, os.environ.get("PATH"))
    if app is None:
        raise _fail(messages.NO_APP_PYTHON)
    version = app_python_version(app)
    if version < (3, 10):
        raise _fail(messages.OLD_PYTHON.format(version=".".join(map(str, version))))
    where = "run-time path" if app.runtime_valid else "build path; scripts relocated"
    log.detail(f"Using the app's Python {'.'.join(map(str, version))} ({where})")
    return app


def _guard_install(action: Callable[[], T]) -> T:
    """Run an install step; an install failure becomes the build-log error that explains it."""
    try:
        return action()
    except InstallError as exc:
        if exc.what == "pip":
            raise _fail(messages.PIP_UNAVAILABLE.format(detail=exc.code)) from exc
        raise _fail(messages.INSTALL_FAILED.format(what=exc.what, code=exc.code)) from exc


def _fix_line(plan: Plan, package: str) -> tuple[str, str]:
    """(file, line) telling the user how to declare *package* for their package manager."""
    manager = plan.dependencies.manager if plan.dependencies else "pip"
    requirement = pins.minimum(package)
    commands = {
        "uv": ("pyproject.toml", f'uv add "{requirement}"'),
        "poetry": ("pyproject.toml", f'poetry add "{requirement}"'),
        "pipenv": ("Pipfile", f'pipenv install "{requirement}"'),
    }
    return commands.get(manager, ("requirements.txt", requirement))


def _install_server_packages(
    plan: Plan, app: AppPython, cache_dir: Path, config_vars: dict[str, str]
) -> None:
    required = pins.REQUIRED["channels" if plan.is_channels else "django"]
    missing = [name for name in required if not is_installed(name)]
    log.step("Checking the server packages")
    for name in required:
        if name not in missing:
            log.detail(f"{name} {importlib.metadata.version(name)}")
    if not missing:
        return
    _guard_install(lambda: install(app, [pins.pinned(n) for n in missing], cache_dir, config_vars))
    for name in missing:
        file, line = _fix_line(plan, name)
        log.detail(f"{name} {pins.PINS[name]} (installed by channels-buildpack)")
        log.warn(
            messages.MISSING_SERVER_PACKAGE.format(
                package=name, pin=pins.pinned(name), file=file, line=line
            )
        )


def _write_outputs(plan: Plan, build_dir: Path, config_vars: dict[str, str]) -> None:
    from buildpack import generate, procfile

    if plan.asgi and plan.asgi.generated:
        try:
            generate.write_generated_asgi(plan, build_dir)
        except FileExistsError as exc:
            raise _fail(messages.GENERATED_NAME_TAKEN.format(path=exc.args[0])) from exc
        log.step(f"Generated {plan.asgi.generated} (Channels routing for your WebSocket routes)")

    if plan.procfile.source == "user":
        log.step("Using your Procfile (kept exactly as committed)")
        for warning in plan.procfile.warnings:
            log.warn(warning)
    else:
        commands = generate.process_commands(plan)
        (build_dir / "Procfile").write_text(procfile.render(commands), encoding="utf-8")
        log.step("Wrote a Procfile (your repository has none)")
    for name, command in plan.procfile.processes.items():
        log.detail(f"{name}: {command}")

    profile = build_dir / generate.PROFILE_SCRIPT
    profile.parent.mkdir(exist_ok=True)
    profile.write_text(generate.profile_script(), encoding="utf-8")
    log.step(f"Wrote {generate.PROFILE_SCRIPT} (runtime defaults; config vars win)")

    state = {
        "version": __version__,
        "redis_addon": _wants_redis_addon(plan, config_vars),
        "plan": plan.to_json(),
    }
    state_path = build_dir / STATE_FILE
    state_path.parent.mkdir(exist_ok=True)
    state_path.write_text(redact_text(json.dumps(state, indent=2)) + "\n", encoding="utf-8")


def _wants_redis_addon(plan: Plan, config_vars: dict[str, str]) -> bool:
    if not plan.is_channels:
        return False
    opt_out = config_vars.get(REDIS_ADDON_VAR, "").strip().lower()
    if opt_out in _FALSY:
        log.detail(messages.REDIS_ADDON_OPTED_OUT.format(value=opt_out))
        return False
    return not config_vars.get("REDIS_URL")


def _summary(plan: Plan) -> str:
    processes = ", ".join(plan.procfile.processes) or "no processes"
    if plan.is_channels and "worker" in plan.procfile.processes:
        return f"{processes}; scale background workers with: heroku ps:scale worker=2"
    return processes
