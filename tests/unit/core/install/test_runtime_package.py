"""Unit tests for ``buildpack.core.install.runtime_package``: what our runtime needs in the
app's Python, and how it is told apart from what is there.
"""

from __future__ import annotations

import sys

import pytest

from buildpack.core import pins
from buildpack.core.install import runtime_package
from tests.support.paths import REPO


def test_missing_runtime_packages_are_installed_at_their_pins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_package, "satisfied", lambda requirement: False)
    assert runtime_package.missing_runtime_dependencies() == [
        pins.pinned(runtime_package.project_name(r)) for r in runtime_package.runtime_dependencies()
    ]
    assert runtime_package.missing_optional_dependencies() == [pins.pinned("uvloop")]
    assert runtime_package.from_binary_wheels([pins.pinned("uvloop")]) == [
        "--only-binary",
        "uvloop",
        pins.pinned("uvloop"),
    ]


def test_runtime_dependencies_mirror_pyproject() -> None:

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from buildpack.core.install.runtime_package import (
        OPTIONAL_DEPENDENCIES,
        RUNTIME_DEPENDENCIES,
        TOMLI,
    )

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    expected = [*RUNTIME_DEPENDENCIES, *OPTIONAL_DEPENDENCIES, f"{TOMLI}; python_version < '3.11'"]
    assert declared == expected


@pytest.mark.parametrize(
    ("version", "release"),
    [("23.2.post1", (23, 2)), ("2.1", (2, 1)), ("24", (24,)), ("1.0rc1", (1, 0)), ("", ())],
)
def test_release_numbers_of_a_version(version: str, release: tuple[int, ...]) -> None:
    assert runtime_package.release_numbers(version) == release


def test_runtime_dependency_check_honours_the_minimum_version() -> None:
    assert runtime_package.satisfied("packaging>=23")
    assert not runtime_package.satisfied("packaging>=999")  # installed, but older than we need
    assert not runtime_package.satisfied("no-such-distribution-here>=1")
    assert runtime_package.missing_runtime_dependencies() == []  # this venv has all of them
