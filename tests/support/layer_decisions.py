"""The settings layer's channel-layer decisions, for the tests of
``buildpack.runtime.config.layer_config``: the configs it should produce, and checks that every
decision explains itself without a password."""

from __future__ import annotations

from typing import Any

import pytest

from buildpack.messages import ConfigError
from buildpack.runtime.config.layer_config import LayerDecision, decide
from buildpack.runtime.layers import MEMORY_BACKEND, REDIS_BACKEND

DEFAULT_TUNABLES = {"capacity": 100, "expiry": 60, "group_expiry": 86400}
PW = "s3cretPW42"  # every URL below carries it; no message may show it
REMOTE = f"redis://:{PW}@redis.example.com:6379"
REMOTE_TLS = f"rediss://:{PW}@ec2-1-2-3-4.compute-1.amazonaws.com:6380"
ORANGE = f"rediss://:{PW}@orange.example.com:7000"
DEFAULTS = {"capacity": 100, "expiry": 60, "group_expiry": 86400}
NO_TLS_CHECK = {"ssl_cert_reqs": None, "ssl_check_hostname": False}


def messages(decision: LayerDecision) -> list[str]:
    """A decision's notes and warnings, in order."""
    return [*decision.notes, *decision.warnings]


def assert_no_secret(decision: LayerDecision, secret: str = PW) -> None:
    """No note or warning shows *secret*; and there is at least one note."""
    for text in messages(decision):
        assert secret not in text, text
    assert decision.notes, "every decision explains itself"


def raises_config_error(environ: dict[str, str], current: Any = None, **kw: Any) -> str:
    """The one-line text of the ConfigError :func:`decide` raises (never a password)."""
    with pytest.raises(ConfigError) as info:
        decide(environ, current, **kw)
    text = str(info.value)
    assert PW not in text
    assert "\n" not in text
    return text


def redis_config(*hosts: dict[str, Any], **tunables: int) -> dict[str, Any]:
    """CHANNEL_LAYERS with our core layer on *hosts*."""
    return {
        "default": {
            "BACKEND": REDIS_BACKEND,
            "CONFIG": {"hosts": list(hosts), **{**DEFAULTS, **tunables}},
        }
    }


def memory_config(**tunables: int) -> dict[str, Any]:
    """CHANNEL_LAYERS with our in-memory layer."""
    return {"default": {"BACKEND": MEMORY_BACKEND, "CONFIG": {**DEFAULTS, **tunables}}}


def user_layer(backend: str, hosts: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A user's CHANNEL_LAYERS naming *backend* (with *hosts* when given)."""
    layer: dict[str, Any] = {"BACKEND": backend, **extra}
    if hosts is not None:
        layer["CONFIG"] = {"hosts": hosts}
    return {"default": layer}
