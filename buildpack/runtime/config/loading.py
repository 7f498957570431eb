"""Load the app's Django settings in this process, with the settings layer hooked in.

Used by every process that needs the app's settings: the launchers, ``status`` and
``doctor``'s live checks. Order matters for speed and correctness: working directory and
settings module first (cheap, static: the module is read, not imported), then the Django
settings, which the settings layer (:mod:`.autoload`) patches as they load.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from buildpack import envvars, messages
from buildpack.core.pysource import ModuleIndex, SourceError, parse_file, setdefault_settings_module
from buildpack.messages import LaunchError
from buildpack.runtime.config import autoload


def prepare(chdir: str | None, app_path: str | None) -> Path:
    """Enter the project directory, fix ``sys.path``, choose the settings module, hook the layer."""
    if chdir:
        try:
            os.chdir(chdir)
        except OSError as exc:
            raise LaunchError(messages.CHDIR_MISSING, path=chdir, cwd=str(Path.cwd())) from exc
    cwd = Path.cwd()
    if str(cwd) not in sys.path:
        sys.path.insert(0, str(cwd))
    os.environ.setdefault(envvars.SETTINGS.name, "on")
    os.environ.setdefault(envvars.SERVER.name, "asgi")
    if not envvars.SETTINGS_MODULE.raw():
        module = static_settings_module(app_path, cwd)
        if module is None:
            app = app_path or "the ASGI module"
            raise LaunchError(messages.SETTINGS_UNKNOWN_AT_RUNTIME, app=app)
        os.environ[envvars.SETTINGS_MODULE.name] = module
    if envvars.settings_enabled():
        autoload.install()
    return cwd


def static_settings_module(app_path: str | None, cwd: Path) -> str | None:
    """The settings module the ASGI module or manage.py would set (read, not imported)."""
    index = ModuleIndex([cwd], cwd)
    candidates = []
    if app_path:
        module = index.find(app_path.partition(":")[0])
        if module:
            candidates.append(module.path)
    candidates.append(cwd / "manage.py")
    for path in candidates:
        if path.is_file():
            try:
                found = setdefault_settings_module(parse_file(path, path.name))
            except SourceError:
                continue
            if found:
                return found
    return None


def load_settings() -> Any:
    """Import the Django settings (the settings layer runs now) and return them."""
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 - forces the settings module import
    return settings
