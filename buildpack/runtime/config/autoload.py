"""Apply the settings layer to whatever module ``DJANGO_SETTINGS_MODULE`` names.

``channels_buildpack.pth`` (installed next to site-packages) calls :func:`install` at
interpreter start, but only when ``CHANNELS_BUILDPACK_SETTINGS`` is on (``.profile.d``
sets that default on dynos; our launchers set it for local runs). Otherwise nothing here
is even imported.

:func:`install` puts a finder first on ``sys.meta_path``. When the settings module is
imported (by Django, by ``manage.py``, by anything), the finder lets the normal machinery
find and execute it, then runs :func:`buildpack.runtime.config.settings.configure` on the module's
namespace before anyone reads it. The user's ``DJANGO_SETTINGS_MODULE`` is not changed,
so ``settings.SETTINGS_MODULE`` stays theirs. The finder removes itself after one use.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from buildpack import envvars


class _ConfiguringLoader(importlib.abc.Loader):
    """Wraps the real loader; configures the module right after it executes."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        # late import: this module loads at every interpreter start (the .pth hook); the
        # settings layer only when the settings module does
        from buildpack.runtime.config.settings import configure

        configure(vars(module))

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, get_filename...
        return getattr(self._inner, name)


class SettingsFinder(importlib.abc.MetaPathFinder):
    """One-shot finder for the module named by ``DJANGO_SETTINGS_MODULE`` at import time."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != envvars.SETTINGS_MODULE.raw():
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _ConfiguringLoader(spec.loader)
        uninstall()
        return spec


def installed() -> bool:
    """True when the finder is waiting for the settings module."""
    return any(isinstance(f, SettingsFinder) for f in sys.meta_path)


def install() -> None:
    """Install the finder (idempotent). Does nothing if settings were already imported."""
    name = envvars.SETTINGS_MODULE.raw()
    if installed() or (name and name in sys.modules):
        return
    sys.meta_path.insert(0, SettingsFinder())


def uninstall() -> None:
    """Remove the finder."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, SettingsFinder)]
