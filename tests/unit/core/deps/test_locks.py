"""Unit tests for ``buildpack.core.deps.locks``: versions from uv.lock, poetry.lock and
Pipfile.lock.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.projects import dependencies_of as read

# ---- lock files ---------------------------------------------------------------------------


UV_LOCK = """
    version = 1
    requires-python = ">=3.12"

    [[package]]
    name = "myapp"
    version = "0.1.0"
    source = { virtual = "." }

    [[package]]
    name = "Django"
    version = "5.0.6"
    source = { registry = "https://pypi.org/simple" }

    [[package]]
    name = "daphne"
    version = "4.1.2"
    source = { registry = "https://pypi.org/simple" }
"""


def test_uv_lock_versions_skip_root_project(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "uv.lock": UV_LOCK,
            "pyproject.toml": '[project]\nname = "myapp"\ndependencies = ["django>=5"]\n',
        },
    )
    assert deps.locked == {"django": "5.0.6", "daphne": "4.1.2"}
    assert deps.manager == "uv"
    assert deps.has("daphne")
    assert deps.files == ["pyproject.toml", "uv.lock"]


def test_uv_lock_editable_root_is_skipped(tmp_path: Path) -> None:
    content = """
        [[package]]
        name = "myapp"
        version = "0.1.0"
        source = { editable = "." }

        [[package]]
        name = "redis"
        version = "5.0.4"
        source = { registry = "https://pypi.org/simple" }
    """
    deps = read(tmp_path, {"uv.lock": content})
    assert deps.locked == {"redis": "5.0.4"}


def test_poetry_lock_versions(tmp_path: Path) -> None:
    content = """
        [[package]]
        name = "channels-redis"
        version = "4.2.0"
        description = "Redis-backed ASGI channel layer implementation"
        optional = false
        python-versions = ">=3.8"

        [[package]]
        name = "Twisted"
        version = "24.3.0"

        [metadata]
        lock-version = "2.0"
    """
    deps = read(
        tmp_path, {"poetry.lock": content, "pyproject.toml": "[tool.poetry.dependencies]\n"}
    )
    assert deps.locked == {"channels-redis": "4.2.0", "twisted": "24.3.0"}
    assert deps.manager == "poetry"


def test_pipfile_lock_default_only_and_strip_equals(tmp_path: Path) -> None:
    lock = {
        "_meta": {"hash": {"sha256": "x"}},
        "default": {
            "django": {"version": "==5.0.6", "hashes": []},
            "Channels_Redis": {"version": "==4.2.0"},
            "mylib": {"git": "https://github.com/me/mylib.git", "ref": "abc"},
        },
        "develop": {"pytest": {"version": "==8.2.0"}},
    }
    deps = read(tmp_path, {"Pipfile.lock": json.dumps(lock, indent=4)})
    assert deps.locked == {"django": "5.0.6", "channels-redis": "4.2.0"}
    assert deps.manager == "pipenv"


def test_pipfile_lock_invalid_json(tmp_path: Path) -> None:
    deps = read(tmp_path, {"Pipfile.lock": '{\n  "default": {\n    "django": \n}\n'})
    assert deps.locked == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("Pipfile.lock:4: invalid JSON: ")


def test_invalid_lock_toml_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"uv.lock": "[[package]]\nname = \n"})
    assert deps.locked == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("uv.lock:2: invalid TOML: ")


def test_version_hint_locked_then_declared_then_empty(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "uv.lock": UV_LOCK,
            "pyproject.toml": '[project]\ndependencies = ["django>=5", "channels>=4"]\n',
        },
    )
    assert deps.version_hint("Django") == "==5.0.6"
    assert deps.version_hint("channels") == ">=4"
    assert deps.version_hint("gunicorn") == ""
