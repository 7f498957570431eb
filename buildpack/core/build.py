"""The build every platform adapter runs: analyse, check server packages, generate.

Runs as the app's Python in isolated mode (``-I``: the repository is never on ``sys.path``)
with this buildpack first on ``sys.path``. Only the standard library is imported until the
runtime (and with it ``packaging``) has been installed into the app's Python; analysis
modules are imported after that. Every file written into the app goes through
:func:`write_file` (:mod:`buildpack.core.safefs`: never through a symlink out of the build
directory, never over something that is not a regular file).
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from buildpack import __version__, envvars, log, messages
from buildpack.core import pins, safefs
from buildpack.core.detect import detect
from buildpack.core.install.runner import InstallError
from buildpack.core.install.runtime_package import is_installed
from buildpack.redact import redact_text

if TYPE_CHECKING:
    from buildpack.core.plan import Plan

STATE_DIR = ".channels-buildpack"
STATE_FILE = f"{STATE_DIR}/build.json"
MAX_STATE_BYTES = 4 * 1024 * 1024
T = TypeVar("T")


class BuildFailed(Exception):
    """A user-facing build failure; the message has been printed."""


def fail(message: str) -> BuildFailed:
    """Print *message* as a build error and return the exception to raise."""
    log.error(message)
    return BuildFailed(message)


def write_file(build_dir: Path, relative: str, text: str) -> None:
    """Write *relative* (``/``-separated) below *build_dir*; a refusal fails the build."""
    try:
        safefs.write_text(build_dir, relative, text)
    except safefs.UnsafeFile as exc:
        raise fail(messages.UNSAFE_WRITE.format(path=exc.path, reason=exc.reason)) from exc
    except OSError as exc:
        reason = f"cannot be written ({exc.strerror or exc})"
        raise fail(messages.UNSAFE_WRITE.format(path=relative, reason=reason)) from exc


def detected(build_dir: Path) -> str:
    """The project kind label, after the build log's first step; fails for other projects."""
    label, reason = detect(str(build_dir))
    if label is None:
        raise fail(messages.NOT_DJANGO.format(reason=reason))
    log.step(f"{label} app detected (channels-buildpack {__version__})")
    return label


def analyse(build_dir: Path, config_vars: dict[str, str]) -> Plan:
    """The static analysis step, logged; fails the build on errors the app would crash on."""
    # late import: needs packaging, which this build installs first
    from buildpack.core.analysis import analyze
    from buildpack.core.report import plan_text

    log.step("Analysing the project (static: none of your code is imported)")
    plan = analyze(build_dir, config_vars)
    log.detail(plan_text(plan))
    if plan.errors:
        for warning in plan.procfile.warnings:  # printed with the Procfile step otherwise
            log.warn(warning)
        raise fail("\n".join(plan.errors))
    for warning in plan.warnings:
        log.warn(warning)
    return plan


def guard_install(action: Callable[[], T]) -> T:
    """Run an install step; an install failure becomes the build-log error that explains it."""
    try:
        return action()
    except InstallError as exc:
        if exc.what == "pip":
            raise fail(messages.PIP_UNAVAILABLE.format(detail=exc.code)) from exc
        raise fail(messages.INSTALL_FAILED.format(what=exc.what, code=exc.code)) from exc


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


def missing_server_packages(plan: Plan, config_vars: dict[str, str]) -> list[str]:
    """The server packages the app needs (Daphne or gunicorn, channels-redis, the chosen web
    engine's) but lacks."""
    return [name for name in pins.required(plan.is_channels, config_vars) if not is_installed(name)]


def install_server_packages(
    plan: Plan, config_vars: dict[str, str], installer: Callable[[list[str]], object]
) -> None:
    """Log the server packages; install the missing ones pinned (*installer* takes pip
    requirements: the classic adapter installs into the app's Python, CNB into its layer)."""
    required = pins.required(plan.is_channels, config_vars)
    missing = missing_server_packages(plan, config_vars)
    log.step("Checking the server packages")
    for name in required:
        if name not in missing:
            log.detail(f"{name} {importlib.metadata.version(name)}")
    if not missing:
        return
    guard_install(lambda: installer([pins.pinned(n) for n in missing]))
    for name in missing:
        file, line = _fix_line(plan, name)
        log.detail(f"{name} {pins.version(name)} (installed by channels-buildpack)")
        log.warn(
            messages.MISSING_SERVER_PACKAGE.format(
                package=name, pin=pins.pinned(name), file=file, line=line
            )
        )


def write_generated_asgi(plan: Plan, build_dir: Path) -> None:
    """The generated Channels ASGI module, when the plan needs one."""
    # late import: needs packaging, which this build installs first
    from buildpack.core import generate

    if plan.asgi and plan.asgi.generated:
        target = build_dir / plan.asgi.generated
        if target.exists() and not generate.is_generated_file(target):
            raise fail(messages.GENERATED_NAME_TAKEN.format(path=plan.asgi.generated))
        write_file(build_dir, plan.asgi.generated, generate.asgi_module_source(plan))
        log.step(f"Generated {plan.asgi.generated} (Channels routing for your WebSocket routes)")


def write_procfile(plan: Plan, build_dir: Path) -> None:
    """The Procfile when the user has none (theirs is kept byte for byte, and linted)."""
    # late import: needs packaging, which this build installs first
    from buildpack.core import generate, procfile

    if plan.procfile.source == "user":
        log.step("Using your Procfile (kept exactly as committed)")
        for warning in plan.procfile.warnings:
            log.warn(warning)
    else:
        commands = generate.process_commands(plan)
        write_file(build_dir, "Procfile", procfile.render(commands))
        log.step("Wrote a Procfile (your repository has none)")
    for name, command in plan.procfile.processes.items():
        log.detail(f"{name}: {command}")


def write_state(plan: Plan, build_dir: Path, config_vars: dict[str, str]) -> None:
    """``.channels-buildpack/build.json``: the plan and the add-on decision, secrets redacted."""
    state = {
        "version": __version__,
        "redis_addon": wants_redis_addon(plan, config_vars),
        "plan": plan.to_json(),
    }
    write_file(build_dir, STATE_FILE, redact_text(json.dumps(state, indent=2)) + "\n")


def wants_redis_addon(plan: Plan, config_vars: dict[str, str]) -> bool:
    """True when a Channels app has no Redis yet and the user did not opt out."""
    if not plan.is_channels:
        return False
    if not envvars.redis_addon_wanted(config_vars):
        opt_out = envvars.REDIS_ADDON.value(config_vars).lower()
        log.detail(messages.REDIS_ADDON_OPTED_OUT.format(value=opt_out))
        return False
    return not envvars.REDIS_URL.raw(config_vars)


def summary(plan: Plan) -> str:
    """The last build-log line: the process types, and how to scale workers."""
    processes = ", ".join(plan.procfile.processes) or "no processes"
    if plan.is_channels and "worker" in plan.procfile.processes:
        return f"{processes}; scale background workers with: heroku ps:scale worker=2"
    return processes
