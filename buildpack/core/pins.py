"""Exact versions the build installs when an app lacks a package the generated processes need.

A copy of ``uv.lock``, the environment the test suite runs: ``python3 dev.py lock`` rewrites
the ``PINS`` block from it and a test keeps the two equal, so an app gets, on its Python,
exactly what we tested there, never whatever the index serves on the day of its build.
The build warns and tells users to declare their own requirement instead of relying on these.
"""

from __future__ import annotations

import sys

from buildpack import envvars

# name -> ((version, oldest Python minor it is installed on), ...), newest Python first.
# Generated from uv.lock by `python3 dev.py lock`; do not edit by hand.
PINS: dict[str, tuple[tuple[str, str], ...]] = {
    "channels": (("4.3.2", "3.10"),),
    "daphne": (("4.2.3", "3.10"),),
    "channels-redis": (("4.3.0", "3.10"),),
    "gunicorn": (("27.0.1", "3.10"),),
    "uvicorn": (("0.55.0", "3.11"), ("0.54.0", "3.10")),
    "httptools": (("0.9.0", "3.10"),),
    "websockets": (("17.4", "3.11"), ("16.1.1", "3.10")),
    "uvloop": (("0.23.0", "3.10"),),
    "packaging": (("26.4", "3.10"),),
    "dj-database-url": (("3.1.2", "3.10"),),
    "tomli": (("2.5.0", "3.10"),),
}

# What each kind of project needs installed to run the processes we generate.
REQUIRED: dict[str, tuple[str, ...]] = {
    "channels": ("channels", "daphne", "channels-redis"),
    "django": ("gunicorn",),
}
# What the web engine named by CHANNELS_WEB_SERVER (a config var at build time) adds.
ENGINE_PACKAGES: dict[str, tuple[str, ...]] = {
    "uvicorn": ("uvicorn", "httptools", "websockets"),
}


def required(is_channels: bool, config_vars: dict[str, str]) -> tuple[str, ...]:
    """The server packages a project needs, with its chosen web engine's."""
    if not is_channels:
        return REQUIRED["django"]
    engine = envvars.web_server_named(config_vars)
    return REQUIRED["channels"] + ENGINE_PACKAGES.get(engine, ())


def _minor(python: tuple[int, ...]) -> tuple[int, int]:
    return python[0], python[1]


def version(name: str, python: tuple[int, ...] | None = None) -> str:
    """The version of *name* we install on *python* (default: this Python, the app's during
    a build)."""
    wanted = _minor(python or sys.version_info[:2])
    runs = PINS[name]
    for pinned_version, oldest in runs:
        major, minor = (int(part) for part in oldest.split("."))
        if wanted >= (major, minor):
            return pinned_version
    return runs[-1][0]


def pinned(name: str, python: tuple[int, ...] | None = None) -> str:
    """``name==version`` for a package we pin, on *python* (default: this Python)."""
    return f"{name}=={version(name, python)}"


def minimum(name: str) -> str:
    """The line we suggest users add: a compatible lower bound on the newest pin's minor series."""
    major, minor = PINS[name][0][0].split(".")[:2]
    return f"{name}>={major}.{minor}"
