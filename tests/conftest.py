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
# The web engines (CHANNELS_WEB_SERVER); the web launcher's e2e tests run on each.
ENGINES = ("daphne", "uvicorn")


def engine_vars(engine: str) -> dict[str, str]:
    """Config vars selecting *engine*, set before the build like a user would (the build
    then installs the engine's packages)."""
    return {} if engine == "daphne" else {"CHANNELS_WEB_SERVER": engine}


@pytest.fixture(params=ENGINES)
def web_engine(request: pytest.FixtureRequest) -> str:
    """Each web engine in turn."""
    return str(request.param)


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


@pytest.fixture
def engine_build(build_app: Callable[..., Build], web_engine: str) -> Build:
    """``runtime_app`` built with *web_engine* selected (one build per engine, cached)."""
    build = build_app("runtime_app", **LOCAL_HOSTS, **engine_vars(web_engine))
    assert build.ok, build.compile.output if build.compile else build.detect.output
    return build
