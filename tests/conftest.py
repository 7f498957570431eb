"""Shared fixtures: the emulated platform and fixture apps built once per session.

Fixtures only: the names and helpers they use live in :mod:`tests.support`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.apps import ENGINES, LOCAL_HOSTS, engine_vars
from tests.support.paths import FIXTURES
from tests.support.platform import Build, Platform


@pytest.fixture(params=ENGINES)
def web_engine(request: pytest.FixtureRequest) -> str:
    """Each web engine in turn."""
    return str(request.param)


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


@pytest.fixture
def runtime_build(build_app: Callable[..., Build]) -> Build:
    """``runtime_app`` built with the default engine (cached)."""
    build = build_app("runtime_app", **LOCAL_HOSTS)
    assert build.ok, build.compile.output if build.compile else build.detect.output
    return build
