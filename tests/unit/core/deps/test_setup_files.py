"""Unit tests for ``buildpack.core.deps.setup_files``: setup.cfg and setup.py, read, never
executed.
"""

from __future__ import annotations

from pathlib import Path

from buildpack.core.deps import (
    Requirement,
)
from tests.support.projects import dependencies_of as read

# ---- setup.cfg / setup.py -----------------------------------------------------------------


def test_setup_cfg_install_requires(tmp_path: Path) -> None:
    content = """
        [metadata]
        name = app

        [options]
        packages = find:
        install_requires =
            Django>=4.2
            # a comment
            channels[daphne]>=4
            pywin32; sys_platform == "win32"
            not valid !!

        [options.extras_require]
        test = pytest
    """
    deps = read(tmp_path, {"setup.cfg": content})
    source = "setup.cfg [options] install_requires"
    assert deps.declared["django"] == Requirement("django", ">=4.2", source=source)
    assert deps.declared["channels"].extras == ("daphne",)
    assert deps.declared["pywin32"].marker == 'sys_platform == "win32"'
    assert "pytest" not in deps.declared
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("setup.cfg:11: cannot parse 'not valid !!'")
    assert deps.manager == "setup.py"


def test_setup_cfg_unparseable_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"setup.cfg": "install_requires = django\n"})
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("setup.cfg:1: cannot parse: ")


def test_setup_py_literal_list(tmp_path: Path) -> None:
    content = """
        import setuptools

        setuptools.setup(
            name="app",
            install_requires=[
                "Django>=4.2",
                "daphne",
            ],
        )
    """
    deps = read(tmp_path, {"setup.py": content})
    source = "setup.py install_requires"
    assert deps.declared == {
        "django": Requirement("django", ">=4.2", source=source),
        "daphne": Requirement("daphne", source=source),
    }
    assert deps.manager == "setup.py"
    assert deps.problems == []


def test_setup_py_module_level_name(tmp_path: Path) -> None:
    content = """
        from setuptools import setup

        REQUIRES = ("channels[daphne]>=4", "redis")

        if __name__ == "__main__":
            setup(name="app", install_requires=REQUIRES)
    """
    deps = read(tmp_path, {"setup.py": content})
    assert sorted(deps.declared) == ["channels", "redis"]
    assert deps.has("daphne")


def test_setup_py_computed_install_requires_is_a_problem(tmp_path: Path) -> None:
    content = """
        from setuptools import setup

        with open("requirements.txt") as f:
            REQUIRES = f.read().splitlines()

        setup(name="app", install_requires=REQUIRES)
    """
    deps = read(tmp_path, {"setup.py": content})
    assert deps.declared == {}
    assert deps.problems == ["setup.py:6: install_requires is computed; cannot read it statically"]


def test_setup_py_computed_entry_is_a_problem_others_kept(tmp_path: Path) -> None:
    content = """
        from setuptools import setup
        VERSION = "4"
        setup(install_requires=["django", "channels>=" + VERSION])
    """
    deps = read(tmp_path, {"setup.py": content})
    assert list(deps.declared) == ["django"]
    assert deps.problems == [
        "setup.py:3: install_requires entry is computed; cannot read it statically"
    ]


def test_setup_py_kwargs_without_install_requires_is_a_problem(tmp_path: Path) -> None:
    content = """
        from setuptools import setup
        kwargs = {"install_requires": ["django"]}
        setup(name="app", **kwargs)
    """
    deps = read(tmp_path, {"setup.py": content})
    assert deps.declared == {}
    assert deps.problems == [
        "setup.py:3: setup() takes **kwargs; install_requires cannot be read statically"
    ]


def test_setup_py_syntax_error_is_a_problem(tmp_path: Path) -> None:
    deps = read(tmp_path, {"setup.py": "from setuptools import setup\nsetup(install_requires=[\n"})
    assert deps.declared == {}
    assert len(deps.problems) == 1
    assert deps.problems[0].startswith("setup.py:2: syntax error")


def test_setup_py_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    content = f"""
        open({str(marker)!r}, "w").write("oops")
        raise SystemExit(3)
        setup(install_requires=["django"])
    """
    deps = read(tmp_path, {"setup.py": content})
    assert not marker.exists()
    assert list(deps.declared) == ["django"]
