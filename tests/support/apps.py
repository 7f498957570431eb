"""The fixture apps of ``tests/fixtures/``: their names, what each expects of the build
(``fixture.json``), how to build them for the web engines, and a copy to change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.support.paths import FIXTURES

# The hosts a locally run app answers for (config vars given at build time).
LOCAL_HOSTS = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"}
# The web engines (CHANNELS_WEB_SERVER); the web launcher's e2e tests run on each.
ENGINES = ("daphne", "uvicorn")


def engine_vars(engine: str) -> dict[str, str]:
    """Config vars selecting *engine*, set before the build like a user would (the build
    then installs the engine's packages)."""
    return {} if engine == "daphne" else {"CHANNELS_WEB_SERVER": engine}


def fixture_meta(name: str) -> dict[str, Any]:
    """The fixture's ``fixture.json`` (what the tests expect of it)."""
    data: dict[str, Any] = json.loads((FIXTURES / name / "fixture.json").read_text())
    return data


def fixture_names() -> list[str]:
    """Every fixture app directory."""
    return sorted(p.parent.name for p in FIXTURES.glob("*/fixture.json"))


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """A copy of fixture app *name* in *tmp_path*, to change (its ``fixture.json`` left out)."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns("fixture.json"))
    return target
