"""Unit tests for ``buildpack.core.deps.pipfile``: Pipfile packages."""

from __future__ import annotations

from pathlib import Path

from buildpack.core.deps import (
    Requirement,
)
from tests.support.projects import dependencies_of as read

# ---- Pipfile ------------------------------------------------------------------------------


def test_pipfile_packages(tmp_path: Path) -> None:
    content = """
        [[source]]
        url = "https://pypi.org/simple"
        name = "pypi"

        [packages]
        Django = "==5.0.6"
        channels = "*"
        channels-redis = {version = ">=4.2", extras = ["cryptography"]}
        pywin32 = {version = "*", sys_platform = "== 'win32'"}
        tomli = {version = "*", markers = "python_version >= '3'"}
        mylib = {git = "https://github.com/me/mylib.git", ref = "main", editable = true}
        local = {path = "./local", editable = true}

        [dev-packages]
        pytest = "*"
    """
    deps = read(tmp_path, {"Pipfile": content})
    source = "Pipfile [packages]"
    assert deps.declared["django"] == Requirement("django", "==5.0.6", source=source)
    assert deps.declared["channels"] == Requirement("channels", "", source=source)
    assert deps.declared["channels-redis"].extras == ("cryptography",)
    assert deps.declared["channels-redis"].specifier == ">=4.2"
    assert deps.declared["pywin32"].marker == 'sys_platform == "win32"'
    assert deps.declared["tomli"].marker == 'python_version >= "3"'
    assert deps.declared["mylib"].url == "git+https://github.com/me/mylib.git@main"
    assert deps.declared["local"].url == "./local"
    assert "pytest" not in deps.declared
    assert deps.names() == {"django", "channels", "channels-redis", "cryptography", "tomli"} | {
        "mylib",
        "local",
    }
    assert deps.manager == "pipenv"
    assert deps.problems == []


def test_pipfile_invalid_toml(tmp_path: Path) -> None:
    deps = read(tmp_path, {"Pipfile": "[packages]\ndjango = \n"})
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("Pipfile:2: invalid TOML: ")
