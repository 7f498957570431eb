"""Unit tests for ``buildpack.core.pins``: the versions the build installs, per Python."""

from __future__ import annotations

import re
import sys

import pytest

from buildpack.core import pins
from buildpack.core.install import runtime_package


def test_pins_format() -> None:
    for name, runs in pins.PINS.items():
        assert runs, name
        floors = [tuple(int(p) for p in python.split(".")) for _, python in runs]
        assert floors == sorted(floors, reverse=True), name  # newest Python first
        assert floors[-1] == (3, 10), name  # every Python we support gets a pin
        for version, _ in runs:
            assert re.fullmatch(r"\d+\.\d+(\.\d+)?", version), name  # websockets: 17.4
        assert pins.pinned(name) == f"{name}=={pins.version(name)}"
        major, minor = runs[0][0].split(".")[:2]
        assert pins.minimum(name) == f"{name}>={major}.{minor}"
    assert pins.pinned("channels-redis").startswith("channels-redis==4.")
    assert pins.minimum("daphne").startswith("daphne>=4.")


def test_a_pin_is_chosen_by_the_python_it_installs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pins.PINS, "example", (("3.0", "3.12"), ("2.0", "3.11"), ("1.0", "3.10")))
    assert [pins.version("example", (3, minor)) for minor in (10, 11, 12, 14)] == [
        "1.0",
        "2.0",
        "3.0",
        "3.0",
    ]
    assert pins.pinned("example", (3, 11, 4)) == "example==2.0"
    assert pins.version("example") == pins.version("example", sys.version_info[:2])
    assert pins.minimum("example") == "example>=3.0"


def test_every_required_package_is_pinned() -> None:
    assert set(pins.REQUIRED) == {"channels", "django"}
    assert pins.REQUIRED["channels"] == ("channels", "daphne", "channels-redis")
    assert pins.REQUIRED["django"] == ("gunicorn",)
    runtime = [
        runtime_package.project_name(r) for r in (*runtime_package.runtime_dependencies(), "tomli")
    ]
    optional = [runtime_package.project_name(r) for r in runtime_package.OPTIONAL_DEPENDENCIES]
    for names in [*pins.REQUIRED.values(), *pins.ENGINE_PACKAGES.values(), runtime, optional]:
        for name in names:
            assert name in pins.PINS


def test_the_uvicorn_engine_chosen_at_build_time_adds_its_packages() -> None:
    channels = ("channels", "daphne", "channels-redis")
    assert pins.required(True, {}) == channels
    assert pins.required(True, {"CHANNELS_WEB_SERVER": "daphne"}) == channels
    uvicorn = {"CHANNELS_WEB_SERVER": " Uvicorn "}
    assert pins.required(True, uvicorn) == (*channels, "uvicorn", "httptools", "websockets")
    assert pins.required(False, uvicorn) == ("gunicorn",)


def test_the_websockets_pin_still_installs_on_python_3_10() -> None:
    # websockets 17 requires Python 3.11: Python 3.10 apps get the last 16.x
    assert pins.version("websockets", (3, 10)).split(".")[0] == "16"
