"""Unit tests for ``buildpack.core.deps.pyproject``: PEP 621 and Poetry dependencies."""

from __future__ import annotations

from pathlib import Path

from buildpack.core.deps import (
    Requirement,
)
from tests.support.projects import dependencies_of as read

# ---- pyproject.toml -----------------------------------------------------------------------


def test_pyproject_pep621_dependencies_only(tmp_path: Path) -> None:
    content = """
        [project]
        name = "app"
        dependencies = [
          "Django>=4.2",
          "channels[daphne]~=4.0",
          "tomli; python_version < '3.11'",
        ]
        [project.optional-dependencies]
        test = ["pytest"]
        [dependency-groups]
        dev = ["ruff"]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    source = "pyproject.toml [project.dependencies]"
    assert deps.declared == {
        "django": Requirement("django", ">=4.2", source=source),
        "channels": Requirement("channels", "~=4.0", extras=("daphne",), source=source),
        "tomli": Requirement("tomli", marker='python_version < "3.11"', source=source),
    }
    assert deps.manager == "pyproject"
    assert deps.files == ["pyproject.toml"]


def test_pyproject_bad_dependency_string_is_a_problem_with_line(tmp_path: Path) -> None:
    content = """
        [project]
        name = "app"
        dependencies = [
          "django",
          "not a requirement!",
        ]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert list(deps.declared) == ["django"]
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("pyproject.toml:5: cannot parse 'not a requirement!'")


def test_poetry_string_values(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        python = "^3.12"
        Django = "^4.2"
        channels = "*"
        daphne = ">=4.1,<5"
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    source = "pyproject.toml [tool.poetry.dependencies]"
    assert deps.declared == {
        "django": Requirement("django", "^4.2", source=source),
        "channels": Requirement("channels", "", source=source),
        "daphne": Requirement("daphne", ">=4.1,<5", source=source),
    }
    assert deps.version_hint("django") == "^4.2"


def test_poetry_table_values(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        channels = { version = "^4.0", extras = ["Daphne"] }
        pywin32 = { version = "*", markers = "sys_platform == 'win32'" }
        uvloop = { version = "^0.19", platform = "linux" }
        sentry-sdk = { version = "^2", optional = true }
        mylib = { git = "https://github.com/me/mylib.git", tag = "v1.2" }
        local = { path = "../local", develop = true }
        remote = { url = "https://example.com/remote-1.0.tar.gz" }
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    declared = deps.declared
    assert declared["channels"].specifier == "^4.0"
    assert declared["channels"].extras == ("daphne",)
    assert declared["pywin32"].specifier == ""
    assert declared["pywin32"].marker == 'sys_platform == "win32"'
    assert declared["uvloop"].marker == 'sys_platform == "linux"'
    assert "sentry-sdk" not in declared
    assert declared["mylib"].url == "git+https://github.com/me/mylib.git@v1.2"
    assert declared["local"].url == "../local"
    assert declared["remote"].url == "https://example.com/remote-1.0.tar.gz"
    assert deps.names() == {"channels", "daphne", "uvloop", "mylib", "local", "remote"}
    assert deps.problems == []


def test_poetry_list_of_constraints(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        numpy = [
          { version = "<1.25", markers = "python_version < '3.9'" },
          { version = "^2.0", markers = "python_version >= '3.9'" },
        ]
        winonly = [
          { version = "^1", markers = "sys_platform == 'win32'" },
          { version = "^2", markers = "sys_platform == 'cygwin'" },
        ]
        opt = [{ version = "^1", optional = true }]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    numpy = deps.declared["numpy"]
    assert numpy.specifier == "<1.25 || ^2.0"
    assert numpy.marker == '(python_version < "3.9") or (python_version >= "3.9")'
    assert "winonly" in deps.declared
    assert "opt" not in deps.declared
    assert deps.names() == {"numpy"}


def test_poetry_groups_only_main_is_declared(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        django = "^5.0"
        [tool.poetry.group.main.dependencies]
        daphne = "^4.1"
        [tool.poetry.group.dev.dependencies]
        pytest = "^8"
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert sorted(deps.declared) == ["daphne", "django"]
    assert deps.declared["daphne"].source == (
        "pyproject.toml [tool.poetry.group.main.dependencies]"
    )


def test_poetry_invalid_marker_is_a_problem_with_line(tmp_path: Path) -> None:
    content = """
        [tool.poetry.dependencies]
        python = "^3.12"
        django = { version = "^5", markers = "python_version >>> '3'" }
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert deps.declared["django"].marker == "python_version >>> '3'"
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith(
        "pyproject.toml:3: [tool.poetry.dependencies] django: invalid marker"
    )
    assert deps.has("django")


def test_pyproject_invalid_toml_is_a_problem_with_line(tmp_path: Path) -> None:
    deps = read(
        tmp_path, {"pyproject.toml": '[project]\nname = "x"\ndependencies = [\n  "a",\n  b\n]\n'}
    )
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("pyproject.toml:5: invalid TOML: ")
    assert "(at line" not in deps.problems[0]
    assert deps.files == ["pyproject.toml"]


def test_pyproject_wrong_types_are_problems(tmp_path: Path) -> None:
    content = """
        [project]
        dependencies = "django"
        [tool.poetry]
        dependencies = ["django"]
    """
    deps = read(tmp_path, {"pyproject.toml": content})
    assert deps.declared == {}
    assert deps.problems == [
        "pyproject.toml:2: [project.dependencies] is not a list",
        "pyproject.toml: [tool.poetry.dependencies] is not a table",
    ]
