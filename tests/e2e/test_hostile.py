"""Broken and hostile repositories through the real bin/detect, bin/compile, bin/release and
``channels-buildpack inspect``: the build's promises hold for each (see tests/support/hostile.py).

The corpus (tests/support/corpus.py, corpus_tree.py) is generated at test time: FIFOs,
symlinks out of the repository, huge and deep trees, odd names and encodings, malformed
config vars and stdlib-named canary modules cannot live in git.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import corpus, corpus_tree
from tests.support.hostile import Case, Dirs, prepare, run_case, run_steps
from tests.support.paths import FIXTURES

pytestmark = pytest.mark.e2e

CASES = corpus.CASES + corpus_tree.CASES


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def app_python(hostile_root: Path) -> Path:
    """One app Python for the whole corpus: the stack and the runtime already installed."""
    from tests.support.hostile import make_app_python

    return make_app_python(hostile_root / "shared", FIXTURES / "tutorial")


def test_corpus_is_large_and_named_uniquely() -> None:
    names = [case.name for case in CASES]
    assert len(names) >= 40
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_repository(case: Case, hostile_root: Path, app_python: Path) -> None:
    result, problems = run_case(case, hostile_root / "cases", app_python, hostile_root / "cache")
    report = "\n".join(problems)
    assert not problems, f"{case.name}:\n{report}"
    for outcome in result.steps.values():
        assert outcome.seconds < 60


def test_pip_runs_never_import_repository_modules(hostile_root: Path) -> None:
    """A fresh app Python without the runtime: compile runs pip (wheel build and install)
    from the build, and no canary in the repository may run."""
    from tests.support.hostile import make_fresh_python

    python_dir = make_fresh_python(hostile_root / "fresh")
    dirs = Dirs(hostile_root / "pip-canaries")
    prepare(dirs, python_dir, _canary_app)
    result = run_steps(Case("pip-canaries", _canary_app), dirs, python_dir, steps=("compile",))
    compile_ = result.steps["compile"]
    assert compile_.returncode == 0, compile_.output
    assert "channels-buildpack 0.1.0 installed" in compile_.output  # pip did run
    assert not list(dirs.canary.iterdir())
    assert not list(dirs.home.iterdir())


def _canary_app(dirs: Dirs) -> None:
    shutil.copytree(FIXTURES / "tutorial", dirs.build, dirs_exist_ok=True)
    corpus_tree.plant_canaries(dirs, dirs.build)
