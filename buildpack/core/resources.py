"""Locate the readable templates we generate from (``templates/``, ``Procfile.template``).

From a checkout of the buildpack they sit at the repository root; in an installed wheel
they are packaged as ``buildpack/_templates``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the buildpack package
_SEARCH = (_PACKAGE_DIR / "_templates", _PACKAGE_DIR.parent / "templates", _PACKAGE_DIR.parent)


def template_path(name: str) -> Path:
    """Path of template *name* (``Procfile.template``, ``asgi.py.tmpl``, ...)."""
    for directory in _SEARCH:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"channels-buildpack template {name!r} is missing from the install")


def read_template(name: str) -> str:
    """Text of template *name*."""
    return template_path(name).read_text(encoding="utf-8")
