"""Shared fixtures: the emulated platform and fixture apps built once per session."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.platform import Build, Platform

FIXTURES = Path(__file__).parent / "fixtures"
LOCAL_HOSTS = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"}


def fixture_meta(name: str) -> dict[str, Any]:
    """The fixture's ``fixture.json`` (what the tests expect of it)."""
    return json.loads((FIXTURES / name / "fixture.json").read_text())


def fixture_names() -> list[str]:
    """Every fixture app directory."""
    return sorted(p.parent.name for p in FIXTURES.glob("*/fixture.json"))


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    """One emulated platform per session; its build cache keeps our wheel across builds."""
    return Platform(tmp_path_factory.mktemp("platform"))


@pytest.fixture(scope="session")
def build_app(platform: Platform) -> Callable[..., Build]:
    """``build_app(name, **config_vars)``: build a fixture once per distinct config (cached)."""
    cache: dict[tuple[str, tuple[tuple[str, str], ...]], Build] = {}

    def build(name: str, fresh: bool = False, **config_vars: str) -> Build:
        key = (name, tuple(sorted(config_vars.items())))
        if fresh or key not in cache:
            cache[key] = platform.build(FIXTURES / name, dict(config_vars))
        return cache[key]

    return build
