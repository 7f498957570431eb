"""Unit tests for ``bin/detect``, the shell shim around ``buildpack.core.detect`` (which
Python it runs, its exit codes, the grep fallback without one) and its speed on a big
repository.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buildpack.core import detect as detect_module
from buildpack.core.detect import CHANNELS, DJANGO, NOT_DETECTED_EXIT, detect, find_manage_py
from tests.support.detect_scripts import (
    BIN_DETECT,
    MANAGE_PY,
    REAL_PYTHON_DIR,
    SCRIPT_PATH,
    run_script,
)
from tests.support.paths import FIXTURES, REPO
from tests.support.projects import write

# ---- bin/detect: the shell shim ------------------------------------------------------------


def _fake_python(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / name
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def test_bin_detect_falls_back_to_grep_when_python_cannot_decide(tmp_path: Path) -> None:
    # An image whose python3 is too old to parse detect.py exits 1 (SyntaxError): the shim
    # must not take that as "not detected" but run the conservative grep.
    fake_bin = tmp_path / "fakebin"
    _fake_python(fake_bin, "python3", f"echo called >> {tmp_path / 'calls'}; exit 1")
    app = write(tmp_path / "app", {"requirements.txt": "Django\nchannels\n"})
    result = run_script(BIN_DETECT, app, path=os.pathsep.join([str(fake_bin), "/usr/bin", "/bin"]))
    assert (tmp_path / "calls").read_text() == "called\n"
    assert result.returncode == 0
    assert result.stdout == "Django Channels\n"


def test_bin_detect_prefers_the_apps_python(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"manage.py": MANAGE_PY})
    # The app's python says "not detected" (exit 100): bin/detect must stop there (exit 1)
    # without consulting python3 or the fallback, although manage.py is present.
    _fake_python(app / ".heroku" / "python" / "bin", "python", "exit 100")
    result = run_script(BIN_DETECT, app)
    assert result.returncode == 1
    assert result.stdout == ""


def test_bin_detect_without_argument_fails() -> None:
    result = subprocess.run(
        [str(BIN_DETECT)], capture_output=True, text=True, env={"PATH": SCRIPT_PATH}, check=False
    )
    assert result.returncode != 0
    assert "usage: bin/detect BUILD_DIR" in result.stderr


def test_detect_script_exit_codes(tmp_path: Path) -> None:
    script = REPO / "buildpack" / "core" / "detect.py"
    python = str(Path(REAL_PYTHON_DIR) / "python3")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, "-S", "-E", str(script), *args], capture_output=True, text=True, check=False
        )

    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(str(empty)).returncode == NOT_DETECTED_EXIT
    assert run().returncode == 2
    assert run(str(tmp_path / "missing")).returncode == 2
    assert run(str(FIXTURES / "plain_django")).stdout == "Django\n"


def test_main_usage_and_not_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert detect_module.main(["detect"]) == 2
    assert detect_module.main(["detect", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == "usage: detect BUILD_DIR\n" * 2
    assert detect_module.main(["detect", str(tmp_path)]) == NOT_DETECTED_EXIT
    err = capsys.readouterr().err
    assert err.startswith("channels-buildpack: no manage.py (searched 3 levels deep)")
    assert err.count("\n") == 1
    write(tmp_path, {"requirements.txt": "channels\n"})
    assert detect_module.main(["detect", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "Django Channels\n"


# ---- performance on a big repository -------------------------------------------------------

BIG_FILE_COUNT = 20_000


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~20,000 files: node_modules, .git objects, a virtualenv, many app files; the Django
    project (manage.py at depth 1) is Channels only through its settings, so detection has to
    search the project tree rather than stop at the dependency files."""
    root = tmp_path_factory.mktemp("big_repo")
    seeds_dir = tmp_path_factory.mktemp("big_repo_seeds")
    seeds: dict[str, Path] = {}
    count = 0

    def touch(directory: Path, names: list[str], text: str = "") -> None:
        # Hard links: 20,000 real directory entries (regular files to os.scandir/os.walk) at
        # a fraction of the cost of 20,000 new inodes on a busy disk.
        nonlocal count
        directory.mkdir(parents=True, exist_ok=True)
        if text not in seeds:
            seeds[text] = seeds_dir / f"seed{len(seeds)}"
            seeds[text].write_text(text, encoding="utf-8")
        for name in names:
            try:
                os.link(seeds[text], directory / name)
            except OSError:  # no hard links on this file system
                (directory / name).write_text(text, encoding="utf-8")
        count += len(names)

    for pkg in range(40):
        for sub in range(10):
            touch(
                root / "node_modules" / f"pkg{pkg}" / "lib" / f"d{sub}",
                [f"m{i}.js" for i in range(14)],
            )
    touch(root / "node_modules" / "pkg0", ["manage.py"], "raise SystemExit\n")
    for prefix in range(64):
        touch(root / ".git" / "objects" / f"{prefix:02x}", [f"{i:038x}" for i in range(50)])
    touch(root / ".venv", ["pyvenv.cfg"], "home = /usr/bin\n")
    touch(root / ".venv", ["manage.py"], "raise SystemExit\n")
    for pkg in range(30):
        touch(
            root / ".venv" / "lib" / "python3.12" / "site-packages" / f"p{pkg}",
            [f"m{i}.py" for i in range(50)],
        )
    for app in range(40):
        for sub in range(5):
            touch(
                root / "src" / f"app{app}" / f"sub{sub}",
                [f"mod{i}.py" for i in range(50)],
                "x = 1\n",
            )
    write(
        root,
        {
            "requirements.txt": "Django>=4.2\ngunicorn\n",
            "web/manage.py": MANAGE_PY,
            "web/proj/__init__.py": "",
            "web/proj/settings.py": 'INSTALLED_APPS = ["daphne"]\nCHANNEL_LAYERS = {}\n',
        },
    )
    assert count + 4 >= BIG_FILE_COUNT
    return root


def test_big_repo_detect_module(big_repo: Path) -> None:
    assert find_manage_py(str(big_repo)) == ["web/manage.py"]
    assert detect(str(big_repo)) == (
        CHANNELS,
        "Channels settings or routing found next to web/manage.py",
    )


def test_big_repo_bin_detect_is_fast(big_repo: Path) -> None:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        result = run_script(BIN_DETECT, big_repo)
        timings.append(time.perf_counter() - start)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "Django Channels\n"
    assert statistics.median(timings) < 0.2, timings


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "pyproject.toml": '[project]\nname = "bot"\ndescription = "Slack channels bot"\n'
                'dependencies = ["django>=4.2"]\n'
            },
            DJANGO,
        ),
        (
            {
                "poetry.lock": '[[package]]\nname = "django"\nversion = "5.2"\n'
                'description = "Talks to channels and daphne"\n'
            },
            DJANGO,
        ),
        pytest.param(
            {"Pipfile": '[packages]\ndjango = "*"\n[dev-packages]\nchannels = "*"\n'},
            DJANGO,
            marks=pytest.mark.skipif(
                sys.version_info < (3, 11), reason="needs tomllib; older Pythons filter lines"
            ),
        ),
        ({"requirements.txt": "django\t# channels later\n"}, DJANGO),
    ],
    ids=["pyproject-description", "lock-description", "pipfile-dev-only", "tab-comment"],
)
def test_words_outside_dependency_declarations_do_not_count(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert detect(str(write(tmp_path, files)))[0] == expected


def test_include_after_an_option_on_the_same_line_is_followed(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "--prefer-binary -r base.txt\n", "base.txt": "channels\n"})
    assert detect(str(tmp_path))[0] == CHANNELS
