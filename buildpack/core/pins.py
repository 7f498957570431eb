"""Versions we install when an app lacks a server package it needs (with a warning).

Kept current with the versions the test suite runs; the warning tells users to declare
their own requirement instead of relying on these.
"""

from __future__ import annotations

PINS: dict[str, str] = {
    "channels": "4.3.2",
    "daphne": "4.2.3",
    "channels-redis": "4.3.0",
    "gunicorn": "27.0.1",
    "uvicorn": "0.54.0",
    "httptools": "0.9.0",
    # the newest release that installs on every Python we support (17.x needs 3.11)
    "websockets": "16.1.1",
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
    engine = config_vars.get("CHANNELS_WEB_SERVER", "").strip().lower()
    return REQUIRED["channels"] + ENGINE_PACKAGES.get(engine, ())


def pinned(name: str) -> str:
    """``name==version`` for a package we pin."""
    return f"{name}=={PINS[name]}"


def minimum(name: str) -> str:
    """The line we suggest users add: a compatible lower bound on the same minor series."""
    major, minor = PINS[name].split(".")[:2]
    return f"{name}>={major}.{minor}"
