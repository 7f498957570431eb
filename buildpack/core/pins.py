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
}

# What each kind of project needs installed to run the processes we generate.
REQUIRED: dict[str, tuple[str, ...]] = {
    "channels": ("channels", "daphne", "channels-redis"),
    "django": ("gunicorn",),
}


def pinned(name: str) -> str:
    """``name==version`` for a package we pin."""
    return f"{name}=={PINS[name]}"


def minimum(name: str) -> str:
    """The line we suggest users add: a compatible lower bound on the same minor series."""
    major, minor = PINS[name].split(".")[:2]
    return f"{name}>={major}.{minor}"
