"""Static project analysis: an app directory (and its config vars) in, a :class:`Plan` out.

Reads files only (AST, TOML, text); never imports or runs user code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from buildpack import envvars, messages
from buildpack.core import asgi_scan, channels1, generate, procfile, safefs
from buildpack.core.deps import read_dependencies
from buildpack.core.detect import CHANNELS, DJANGO, detect, find_manage_py
from buildpack.core.plan import AsgiInfo, Plan, ProcfileInfo, SettingsInfo
from buildpack.core.pysource import (
    ModuleIndex,
    SourceError,
    SourceTooComplex,
    parse_file,
    setdefault_settings_module,
)
from buildpack.core.rules import daphne_after_staticfiles
from buildpack.core.settings_reader import SettingsNotFound, read_settings


def analyze(root: Path, env: Mapping[str, str] | None = None) -> Plan:
    """Analyse the app at *root*; *env* holds the app's config vars (values never logged)."""
    env = env or {}
    root = root.resolve()
    label, reason = detect(str(root))
    if label is None:
        return Plan(kind="none", reason=reason)
    plan = Plan(kind="channels" if label == CHANNELS else "django", reason=reason)
    plan.dependencies = read_dependencies(root)
    _locate_project(plan, root)
    project_dir = root / plan.project_dir
    index = ModuleIndex([project_dir, root], root)
    _read_settings(plan, index, root, env)
    if plan.errors:
        return plan
    legacy = channels1.evidence(plan, index)
    if legacy:
        plan.errors.append(channels1.message(plan, legacy))
        _procfile(plan, root)  # its Channels 1 commands are linted too
        return plan
    if plan.kind == "channels":
        _analyse_asgi(plan, index, project_dir)
    else:
        _analyse_wsgi(plan, index)
    plan.uses_database = _uses_database(plan, env)
    _settings_warnings(plan)
    _check_procfile_words(plan)
    _procfile(plan, root)
    return plan


def source_error_message(exc: SourceError) -> str:
    """The build-log error for a user source file that cannot be analysed."""
    if isinstance(exc, SourceTooComplex):
        return messages.SOURCE_TOO_COMPLEX.format(path=exc.path, error=exc.message)
    where = f"line {exc.line}: {exc.message}" if exc.line else exc.message
    return messages.SOURCE_UNREADABLE.format(path=exc.path, error=where)


def _check_procfile_words(plan: Plan) -> None:
    """What goes on a generated Procfile line must stay one plain line (no newline smuggled in
    through a folder name or an ``ASGI_APPLICATION`` string)."""
    if plan.app_path:
        module, _, attr = plan.app_path.partition(":")
        if not all(part.isidentifier() for part in [*module.split("."), attr]):
            setting = "WSGI_APPLICATION" if plan.server == "gunicorn" else "ASGI_APPLICATION"
            plan.errors.append(
                messages.UNSAFE_APP_PATH.format(
                    what=setting,
                    value=plan.app_path.replace(":", "."),
                    why="not a dotted module.attribute path",
                    fix=f"set {setting} to a dotted path like mysite.asgi.application.",
                )
            )
    if not plan.project_dir.isprintable():
        plan.errors.append(
            messages.UNSAFE_APP_PATH.format(
                what="The folder holding manage.py,",
                value=plan.project_dir,
                why="its name has control characters or is not UTF-8",
                fix="rename it (letters, digits, - and _ are safe).",
            )
        )


def _locate_project(plan: Plan, root: Path) -> None:
    candidates = find_manage_py(str(root))
    plan.manage_py_candidates = candidates
    if not candidates:
        return
    plan.manage_py = Path(candidates[0]).as_posix()
    plan.project_dir = Path(candidates[0]).parent.as_posix() or "."
    if len(candidates) > 1:  # find_manage_py returns only the shallowest level
        plan.warnings.append(
            messages.SEVERAL_MANAGE_PY.format(paths=", ".join(candidates), chosen=candidates[0])
        )


def _settings_module(plan: Plan, root: Path, env: Mapping[str, str]) -> tuple[str | None, str]:
    configured = envvars.SETTINGS_MODULE.value(env)
    if configured:
        return configured, f"{envvars.SETTINGS_MODULE.name} config var"
    if plan.manage_py:
        tree = parse_file(root / plan.manage_py, plan.manage_py)
        module = setdefault_settings_module(tree)
        if module:
            return module, plan.manage_py
    return None, ""


def _read_settings(plan: Plan, index: ModuleIndex, root: Path, env: Mapping[str, str]) -> None:
    try:
        module, source = _settings_module(plan, root, env)
    except SourceTooComplex as exc:
        plan.errors.append(source_error_message(exc))
        return
    except SourceError as exc:
        plan.errors.append(messages.SOURCE_UNREADABLE.format(path=exc.path, error=exc.message))
        return
    if module is None:
        plan.errors.append(messages.SETTINGS_MODULE_UNKNOWN)
        return
    try:
        plan.settings = read_settings(index, module, source)
    except SourceError as exc:
        plan.settings = SettingsInfo(module=module, source=source, error=str(exc))
        if exc.line and not isinstance(exc, SourceTooComplex):
            error = messages.SETTINGS_SYNTAX.format(path=exc.path, line=exc.line, error=exc.message)
        else:
            error = source_error_message(exc)
        plan.errors.append(error)
    except SettingsNotFound:
        plan.settings = SettingsInfo(module=module, source=source)
        plan.errors.append(
            messages.SETTINGS_MODULE_MISSING.format(
                module=module, source=source, project_dir=plan.project_dir
            )
        )


def _analyse_asgi(plan: Plan, index: ModuleIndex, project_dir: Path) -> None:
    settings = plan.settings
    module, attr, conventional = asgi_scan.locate(
        index, settings.module, settings.asgi_application, settings.wsgi_application
    )
    explicit = bool(settings.asgi_application)
    if explicit and index.find(module) is None:
        plan.errors.append(
            messages.ASGI_SETTING_MISSING_MODULE.format(
                setting=settings.asgi_application, module=module
            )
        )
        return
    try:
        asgi = asgi_scan.classify(index, module, attr, conventional, explicit)
    except SourceError as exc:
        plan.errors.append(source_error_message(exc))
        return
    asgi.websocket_modules = asgi_scan.find_websocket_modules(index, project_dir)
    plan.asgi = asgi
    plan.server = "daphne"
    needs_generated = asgi.kind == "missing" or (asgi.kind == "stock" and asgi.websocket_modules)
    if needs_generated:
        generated = project_dir / f"{asgi_scan.GENERATED_MODULE}.py"
        asgi.generated = Path(plan.project_dir, generated.name).as_posix()  # not resolved: ours
        if generated.exists() and not generate.is_generated_file(generated):
            plan.errors.append(messages.GENERATED_NAME_TAKEN.format(path=asgi.generated))
        plan.app_path = f"{asgi_scan.GENERATED_MODULE}:application"
    else:
        plan.app_path = asgi.app_path
    mismatch = asgi.settings_default and asgi.settings_default != settings.module
    if mismatch and settings.module and not settings.source.endswith("config var"):
        plan.warnings.append(
            messages.SETTINGS_MISMATCH.format(
                asgi=asgi.path, asgi_settings=asgi.settings_default, settings=settings.module
            )
        )
    if asgi.channels_aware and asgi.websocket_modules and not asgi.origin_validation:
        plan.warnings.append(messages.NO_ORIGIN_VALIDATION.format(path=asgi.path))


def _analyse_wsgi(plan: Plan, index: ModuleIndex) -> None:
    wsgi = plan.settings.wsgi_application
    if wsgi:
        module, attr = asgi_scan.split_app_path(wsgi)
    else:
        asgi_default = asgi_scan.default_asgi_module(index, plan.settings.module, None)
        module, attr = asgi_scan.sibling_module(asgi_default, "wsgi"), "application"
    plan.server = "gunicorn"
    plan.wsgi_app_path = plan.app_path = f"{module}:{attr}"


def _uses_database(plan: Plan, env: Mapping[str, str]) -> bool:
    databases = plan.settings.databases
    declared = databases is not None and (bool(databases.engines) or databases.reads_env)
    return declared or bool(envvars.DATABASE_URL.raw(env))


def _settings_warnings(plan: Plan) -> None:
    if daphne_after_staticfiles(plan.settings.installed_apps or []):
        plan.warnings.append(messages.DAPHNE_AFTER_STATICFILES)
    databases = plan.settings.databases
    if databases is not None and databases.sqlite_only:
        plan.warnings.append(messages.SQLITE_ON_DYNO)
    apps = plan.settings.installed_apps or []
    servers = ("whitenoise", "servestatic", "django-storages")
    deps = plan.dependencies
    if (
        plan.server == "daphne"
        and "django.contrib.staticfiles" in apps
        and deps is not None
        and not any(deps.has(name) for name in servers)
    ):
        plan.warnings.append(messages.STATIC_FILES_NOT_SERVED)


def _read_procfile(plan: Plan, path: Path) -> str | None:
    """The user's Procfile text; None when there is none. A Procfile that cannot be used (a
    directory, a FIFO, a dangling symlink...) is an error: nothing may be written over it."""
    if not (path.is_symlink() or path.exists()):
        return None
    try:
        return safefs.read_text(path, procfile.MAX_PROCFILE_BYTES)
    except safefs.UnsafeFile as exc:
        reason = exc.reason
    except FileNotFoundError:
        reason = "is a symlink to a missing path"
    except OSError as exc:
        reason = f"cannot be read ({exc.strerror or exc})"
    plan.errors.append(messages.PROCFILE_UNREADABLE.format(reason=reason))
    return None


def _procfile(plan: Plan, root: Path) -> None:
    path = root / "Procfile"
    background = plan.background_channels
    text = _read_procfile(plan, path)
    if text is not None:
        processes = procfile.parse(text)
        plan.procfile = ProcfileInfo(
            source="user",
            processes=processes,
            warnings=procfile.lint(
                processes, channels=plan.is_channels, background_channels=background
            ),
        )
        return
    if plan.app_path is None or plan.errors:  # plan.errors says why there is no Procfile
        return
    commands = generate.process_commands(plan)
    plan.procfile = ProcfileInfo(
        source="generated", processes=procfile.parse(procfile.render(commands))
    )


def describe_asgi(asgi: AsgiInfo) -> str:
    """One phrase for the build log: what the ASGI entry point is."""
    kinds = {
        "channels": "Channels ProtocolTypeRouter",
        "stock": "Django's stock asgi.py (no WebSocket routing)",
        "missing": "no asgi.py",
        "custom": "custom ASGI_APPLICATION" + (" (Channels)" if asgi.channels_aware else ""),
    }
    return f"{asgi.module}:{asgi.attr} ({kinds[asgi.kind]})"


__all__ = ["CHANNELS", "DJANGO", "analyze", "describe_asgi"]
