"""The channel layer the settings name: the one reader of ``CHANNEL_LAYERS["default"]``.

The settings layer decides it (:mod:`.layer_config`); everything that acts on it afterwards
(the launchers, the system checks, ``status`` and ``doctor``) reads it here, from Django's
settings (or anything with a ``CHANNEL_LAYERS`` attribute), without connecting.
"""

from __future__ import annotations

from typing import Any

from buildpack.redact import redact_url
from buildpack.runtime.layers import MEMORY_BACKENDS


def default_layer(settings: Any) -> dict[str, Any]:
    """The ``default`` entry of ``CHANNEL_LAYERS`` (``{}`` when there is none)."""
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    default = layers.get("default") if isinstance(layers, dict) else None
    return default if isinstance(default, dict) else {}


def backend(settings: Any) -> str | None:
    """The default layer's ``BACKEND``."""
    value = default_layer(settings).get("BACKEND")
    return None if value is None else str(value)


def single_process(settings: Any) -> bool:
    """True when the layer is in-memory (or absent): everything must run in one process."""
    name = backend(settings)
    return name is None or name in MEMORY_BACKENDS


def hosts(settings: Any) -> list[Any]:
    """The default layer's ``hosts`` option (``[]`` when it has none)."""
    found = (default_layer(settings).get("CONFIG") or {}).get("hosts") or []
    return list(found) if isinstance(found, (list, tuple)) else []


def describe(settings: Any) -> str:
    """``Backend (redacted hosts)``, for start-up lines and ``doctor``."""
    name = str(default_layer(settings).get("BACKEND", "none"))
    shown = []
    for host in hosts(settings):
        address = host.get("address", host.get("host")) if isinstance(host, dict) else host
        shown.append(redact_url(str(address)) if "://" in str(address) else str(address))
    return f"{name} ({', '.join(shown)})" if shown else name
