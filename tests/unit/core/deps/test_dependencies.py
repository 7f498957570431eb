"""Unit tests for ``buildpack.core.deps`` as a whole (``read_dependencies`` and the
``Dependencies`` it returns): implied extras, the manager and the reading order, robustness
and the JSON output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildpack.core.deps import (
    MAX_FILE_BYTES,
    Dependencies,
    read_dependencies,
)
from tests.support.projects import dependencies_of as read

# ---- markers and extras -------------------------------------------------------------------


def test_channels_daphne_extra_implies_daphne(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "channels[daphne]>=4\n"})
    assert "daphne" not in deps.declared
    assert deps.has("daphne")
    assert deps.names() == {"channels", "daphne"}


def test_channels_redis_cryptography_extra_implied(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "channels_redis[cryptography,other]\n"})
    assert deps.names() == {"channels-redis", "cryptography"}


def test_win32_only_requirement_declared_but_not_in_names(tmp_path: Path) -> None:
    content = (
        "pywin32>=306; sys_platform == 'win32'\n"
        "uvloop; platform_system == 'Linux'\n"
        "appnope; sys_platform == 'darwin'\n"
        "armonly; platform_machine == 'aarch64'\n"
        "py2only; python_version < '3'\n"
    )
    deps = read(tmp_path, {"requirements.txt": content})
    assert set(deps.declared) == {"pywin32", "uvloop", "appnope", "armonly", "py2only"}
    assert deps.names() == {"uvloop"}
    assert not deps.has("pywin32")


def test_extras_of_inapplicable_requirement_imply_nothing(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "channels[daphne]; os_name == 'nt'\n"})
    assert deps.names() == set()


# ---- manager and reading order ------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "manager"),
    [
        (["uv.lock", "poetry.lock", "Pipfile", "requirements.txt", "pyproject.toml"], "uv"),
        (["poetry.lock", "Pipfile.lock", "requirements.txt", "pyproject.toml"], "poetry"),
        (["Pipfile.lock", "requirements.txt", "setup.py"], "pipenv"),
        (["Pipfile", "requirements.txt"], "pipenv"),
        (["requirements.txt", "setup.py", "pyproject.toml"], "pip"),
        (["setup.cfg", "pyproject.toml"], "setup.py"),
        (["setup.py"], "setup.py"),
        (["pyproject.toml"], "pyproject"),
        ([], "none"),
    ],
)
def test_manager_precedence(tmp_path: Path, present: list[str], manager: str) -> None:
    for name in present:
        (tmp_path / name).write_text("", encoding="utf-8")
    assert read_dependencies(tmp_path).manager == manager


def test_primary_manager_declaration_wins_and_files_order(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "Pipfile": '[packages]\ndjango = "==5.0"\n',
            "requirements.txt": "django==4.2\nredis\n",
            "Pipfile.lock": '{"default": {"django": {"version": "==5.0"}}}',
        },
    )
    assert deps.manager == "pipenv"
    assert deps.declared["django"].specifier == "==5.0"
    assert deps.declared["redis"].source == "requirements.txt:2"
    assert deps.files == ["Pipfile", "requirements.txt", "Pipfile.lock"]


def test_empty_directory(tmp_path: Path) -> None:
    deps = read_dependencies(tmp_path)
    assert deps == Dependencies({}, {}, [], [], "none")
    assert deps.names() == set()
    assert deps.to_json() == {
        "manager": "none",
        "declared": {},
        "locked": {},
        "files": [],
        "problems": [],
    }


# ---- robustness and output ----------------------------------------------------------------


def test_undecodable_bytes_are_replaced_with_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": b"django\n# caf\xe9\ndaphne  # \xff\n"})
    assert deps.problems == ["requirements.txt:2: not valid UTF-8; undecodable bytes replaced"]
    assert "django" in deps.declared
    assert "daphne" in deps.declared


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "\ufeffdjango\n".encode()})
    assert list(deps.declared) == ["django"]
    assert deps.problems == []


def test_file_over_size_limit_is_skipped(tmp_path: Path) -> None:
    big = "django\n" + "#" * (MAX_FILE_BYTES + 1) + "\n"
    deps = read(tmp_path, {"requirements.txt": big, "Pipfile": '[packages]\ndaphne = "*"\n'})
    assert "django" not in deps.declared
    assert list(deps.declared) == ["daphne"]
    assert deps.files == ["Pipfile"]
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("requirements.txt: ")
    assert "too large" in deps.problems[0]


def test_to_json_is_serialisable_and_masks_passwords(tmp_path: Path) -> None:
    deps = read(
        tmp_path,
        {
            "requirements.txt": (
                "channels[daphne]>=4; python_version >= '3.10'\n"
                "priv @ https://user:s3cret@example.com/priv-1.0.tar.gz\n"
                "bad line here\n"
            ),
            "poetry.lock": '[[package]]\nname = "channels"\nversion = "4.1.0"\n',
        },
    )
    data = deps.to_json()
    text = json.dumps(data)
    assert "s3cret" not in text
    assert data["declared"] == {
        "channels": '[daphne]>=4; python_version >= "3.10"',
        "priv": "@ https://user:***@example.com/priv-1.0.tar.gz",
    }
    assert data["locked"] == {"channels": "4.1.0"}
    assert data["files"] == ["requirements.txt", "poetry.lock"]
    assert data["manager"] == "poetry"
    assert isinstance(data["problems"], list)
    assert len(data["problems"]) == 1


def test_problem_quoting_a_url_masks_its_password(tmp_path: Path) -> None:
    deps = read(tmp_path, {"requirements.txt": "https://u:hunter22@example.com/simple/\n"})
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert "hunter22" not in deps.problems[0]
    assert "https://u:***@example.com/simple/" in deps.problems[0]
