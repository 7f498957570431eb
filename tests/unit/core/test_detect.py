"""Unit tests for detection: ``buildpack.core.detect`` (every fixture app, the manage.py
search, dependency files, Channels markers, hostile trees), and ``bin/detect`` and its grep
fallback agreeing with it on every fixture.

No network, no servers: the scripts run on fixture apps and small trees in ``tmp_path``.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from buildpack.core import detect as detect_module
from buildpack.core.detect import CHANNELS, DJANGO, detect, find_manage_py
from tests.support.apps import fixture_meta, fixture_names
from tests.support.detect_scripts import (
    BIN_DETECT,
    FALLBACK,
    MANAGE_PY,
    SCRIPT_PATH,
    run_script,
)
from tests.support.paths import FIXTURES
from tests.support.projects import write

FIXTURE_DETECT = {name: fixture_meta(name)["detect"] for name in fixture_names()}


# ---- every fixture: module, bin/detect, fallback --------------------------------------------


def test_every_fixture_declares_an_expected_label() -> None:
    assert len(FIXTURE_DETECT) >= 14
    assert set(FIXTURE_DETECT.values()) <= {CHANNELS, DJANGO, None}
    assert FIXTURE_DETECT["not_django"] is None
    assert FIXTURE_DETECT["plain_django"] == DJANGO
    assert FIXTURE_DETECT["tutorial"] == CHANNELS


@pytest.mark.parametrize(("name", "expected"), FIXTURE_DETECT.items(), ids=list(FIXTURE_DETECT))
def test_detect_module_on_fixture(name: str, expected: str | None) -> None:
    label, reason = detect(str(FIXTURES / name))
    assert label == expected
    assert reason
    assert str(FIXTURES) not in reason


@pytest.mark.parametrize(("name", "expected"), FIXTURE_DETECT.items(), ids=list(FIXTURE_DETECT))
def test_bin_detect_on_fixture(name: str, expected: str | None) -> None:
    result = run_script(BIN_DETECT, FIXTURES / name)
    if expected is None:
        assert result.returncode != 0
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert "not a Django project" in lines[0]
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected + "\n"
        assert result.stderr == ""


@pytest.mark.parametrize(("name", "expected"), FIXTURE_DETECT.items(), ids=list(FIXTURE_DETECT))
def test_detect_fallback_on_fixture(name: str, expected: str | None) -> None:
    result = run_script(FALLBACK, FIXTURES / name)
    if expected is None:
        assert result.returncode != 0
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1
        assert "not a Django project" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected + "\n"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"requirements.txt": "channels-redis>=4\n"}, CHANNELS),
        ({"requirements.txt": "# channels\nDjango\n"}, DJANGO),
        ({"requirements.txt": "django-environ\n"}, None),
        ({"Pipfile": '[packages]\ndaphne = "*"\n'}, CHANNELS),
        ({"a/b/c/manage.py": MANAGE_PY}, DJANGO),
        ({"a/b/c/d/manage.py": MANAGE_PY}, None),
        ({"node_modules/x/manage.py": MANAGE_PY, ".venv/manage.py": MANAGE_PY}, None),
    ],
    ids=[
        "channels-redis",
        "comment",
        "django-environ",
        "pipfile-daphne",
        "manage-depth3",
        "manage-depth4",
        "manage-in-skip-dirs",
    ],
)
def test_fallback_agrees_with_detect(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    write(tmp_path, files)
    assert detect(str(tmp_path))[0] == expected
    result = run_script(FALLBACK, tmp_path)
    assert result.stdout == ("" if expected is None else expected + "\n")
    assert (result.returncode == 0) is (expected is not None)


# ---- manage.py search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "found"),
    [
        ("manage.py", True),
        ("backend/manage.py", True),
        ("a/b/manage.py", True),
        ("a/b/c/manage.py", True),
        ("a/b/c/d/manage.py", False),
    ],
    ids=["depth0", "depth1", "depth2", "depth3", "depth4-too-deep"],
)
def test_manage_py_depth(tmp_path: Path, where: str, found: bool) -> None:
    write(tmp_path, {where: MANAGE_PY})
    assert find_manage_py(str(tmp_path)) == ([where] if found else [])
    label, _ = detect(str(tmp_path))
    assert label == (DJANGO if found else None)


@pytest.mark.parametrize(
    "where",
    [
        "node_modules/manage.py",
        "node_modules/pkg/manage.py",
        ".venv/manage.py",
        "venv/manage.py",
        ".git/manage.py",
        ".heroku/python/manage.py",
        "site-packages/manage.py",
        "myenv/manage.py",  # any folder holding pyvenv.cfg is a virtualenv
    ],
)
def test_manage_py_in_skipped_dirs_is_ignored(tmp_path: Path, where: str) -> None:
    write(tmp_path, {where: MANAGE_PY, "myenv/pyvenv.cfg": "home = /usr/bin\n"})
    assert find_manage_py(str(tmp_path)) == []
    assert detect(str(tmp_path))[0] is None


def test_manage_py_shallowest_level_only_sorted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "zeta/manage.py": MANAGE_PY,
            "alpha/manage.py": MANAGE_PY,
            "alpha/deeper/manage.py": MANAGE_PY,
        },
    )
    assert find_manage_py(str(tmp_path)) == ["alpha/manage.py", "zeta/manage.py"]


def test_manage_py_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "manage.py").mkdir()
    write(tmp_path, {"manage.py/x/manage.py": MANAGE_PY})
    assert find_manage_py(str(tmp_path)) == ["manage.py/x/manage.py"]


# ---- dependency files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"requirements.txt": "Django>=4.2\nchannels==4.3.2\n"}, CHANNELS),
        ({"requirements.txt": "channels-redis>=4\n"}, CHANNELS),
        ({"requirements.txt": "channels_redis\n"}, CHANNELS),
        ({"requirements.txt": "daphne\n"}, CHANNELS),
        ({"requirements.txt": "channels[daphne]>=4.0\n"}, CHANNELS),
        ({"requirements.txt": "Django==5.2\n"}, DJANGO),
        ({"requirements.txt": "django-environ\n"}, None),
        ({"requirements.txt": "django-channels-presence\n"}, None),
        ({"requirements.txt": "djangorestframework\nrequests\n"}, None),
        ({"requirements.txt": "# channels, one day\nDjango\n"}, DJANGO),
        ({"requirements.txt": "   # daphne\nDjango\n"}, DJANGO),
        ({"requirements.txt": "Django  # channels later\n"}, DJANGO),
        ({"requirements.txt": "# Django\nrequests\n"}, None),
        ({"pyproject.toml": '[project]\ndependencies = ["django>=5", "channels>=4"]\n'}, CHANNELS),
        (
            {"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.12"\nDjango = "^5"\n'},
            DJANGO,
        ),
        ({"Pipfile": '[packages]\ndjango = "*"\ndaphne = "*"\n'}, CHANNELS),
        ({"setup.py": 'setup(install_requires=["Django>=4.2"])\n'}, DJANGO),
        ({"setup.cfg": "[options]\ninstall_requires =\n    channels\n"}, CHANNELS),
        ({"uv.lock": '[[package]]\nname = "channels"\nversion = "4.3.2"\n'}, CHANNELS),
        ({"poetry.lock": '[[package]]\nname = "django"\nversion = "5.2"\n'}, DJANGO),
    ],
    ids=[
        "channels",
        "channels-redis-alone",
        "channels_redis-underscore",
        "daphne",
        "channels-extra",
        "django-only",
        "django-environ-is-not-django",
        "django-channels-x-is-neither",
        "drf-is-not-django",
        "comment-line-channels",
        "indented-comment-daphne",
        "inline-comment-channels",
        "comment-line-django",
        "pep621",
        "poetry",
        "pipfile",
        "setup-py",
        "setup-cfg",
        "uv-lock",
        "poetry-lock",
    ],
)
def test_dependency_files(tmp_path: Path, files: dict[str, str], expected: str | None) -> None:
    write(tmp_path, files)
    assert detect(str(tmp_path))[0] == expected


@pytest.mark.parametrize(
    "requirements",
    ["-r requirements/base.txt\n", "--requirement=requirements/base.txt\n"],
    ids=["-r", "--requirement="],
)
def test_requirements_include_is_followed(tmp_path: Path, requirements: str) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "gunicorn\n" + requirements,
            "requirements/base.txt": "Django>=4.2\nchannels-redis\n",
        },
    )
    label, reason = detect(str(tmp_path))
    assert label == CHANNELS
    assert reason == "channels/daphne found in the dependencies"


def test_constraints_file_is_not_a_dependency(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"requirements.txt": "Django\n-c constraints.txt\n", "constraints.txt": "channels<5\n"},
    )
    assert detect(str(tmp_path))[0] == DJANGO


def test_oversized_dependency_file_is_not_read(tmp_path: Path) -> None:
    huge = "requests\n" * (detect_module.MAX_READ // 9 + 10) + "channels\n"
    write(tmp_path, {"requirements.txt": huge})
    assert detect(str(tmp_path))[0] is None


# ---- Channels markers next to manage.py ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("proj/settings.py", "CHANNEL_LAYERS = {}\n"),
        ("proj/settings.py", 'INSTALLED_APPS = ["daphne", "django.contrib.admin"]\n'),
        ("proj/settings.py", 'ASGI_APPLICATION = "proj.asgi.application"\n'),
        ("proj/settings/base.py", "INSTALLED_APPS = ['channels']\n"),
        ("proj/settings_prod.py", "CHANNEL_LAYERS = {}\n"),
        ("proj/asgi.py", "application = ProtocolTypeRouter({})\n"),
        ("chat/routing.py", "from channels.routing import ProtocolTypeRouter\n"),
    ],
    ids=[
        "channel-layers",
        "daphne-app",
        "asgi-application",
        "settings-package",
        "settings-prefix",
        "asgi-router",
        "routing",
    ],
)
def test_channels_found_in_project_files(tmp_path: Path, path: str, content: str) -> None:
    write(tmp_path, {"requirements.txt": "Django\n", "manage.py": MANAGE_PY, path: content})
    label, reason = detect(str(tmp_path))
    assert label == CHANNELS
    assert reason == "Channels settings or routing found next to manage.py"


def test_channels_markers_beside_subfolder_manage_py(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "backend/manage.py": MANAGE_PY,
            "backend/proj/settings.py": "CHANNEL_LAYERS = {}\n",
        },
    )
    assert detect(str(tmp_path)) == (
        CHANNELS,
        "Channels settings or routing found next to backend/manage.py",
    )


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("proj/views.py", "CHANNEL_LAYERS = {}\n"),  # not a settings/asgi/routing file
        ("proj/settings.py", "# we might add channels here\nDEBUG = True\n"),
        ("node_modules/x/settings.py", "CHANNEL_LAYERS = {}\n"),
        ("a/b/c/settings.py", "CHANNEL_LAYERS = {}\n"),  # 3 levels below manage.py
    ],
    ids=["not-a-settings-file", "bare-word", "skip-dir", "too-deep"],
)
def test_channels_not_found_in_other_files(tmp_path: Path, path: str, content: str) -> None:
    write(tmp_path, {"manage.py": MANAGE_PY, path: content})
    label, reason = detect(str(tmp_path))
    assert label == DJANGO
    assert reason == "Django project (manage.py), no Channels"


def test_not_detected_reason_is_one_line(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "flask\n", "app.py": "import flask\n"})
    label, reason = detect(str(tmp_path))
    assert label is None
    assert "\n" not in reason
    assert "not a Django project" in reason


# ---- hostile repositories ---------------------------------------------------------------------


@pytest.mark.parametrize("script", [BIN_DETECT, FALLBACK], ids=["bin-detect", "fallback"])
def test_special_files_never_block_detection(tmp_path: Path, script: Path) -> None:
    """A FIFO in place of requirements.txt used to block bin/detect forever (open() waits
    for a writer); `pack build` of a local directory can carry one."""
    app = write(tmp_path / "app", {"manage.py": MANAGE_PY, "setup.py": "install_requires=[]"})
    os.mkfifo(app / "requirements.txt")
    os.mkfifo(app / "pyproject.toml")
    (app / "Pipfile").symlink_to("/dev/zero")
    (app / "setup.cfg").mkdir()
    env = {"PATH": SCRIPT_PATH, "LANG": "C.UTF-8"}
    with subprocess.Popen(
        [str(script), str(app)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # on a hang, the whole group (shell, python, cat) is killed
    ) as proc:
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"{script.name} blocked on a special file")
    assert (proc.returncode, out) == (0, "Django\n"), err


def test_detect_reads_through_the_safe_reader(tmp_path: Path) -> None:
    app = write(tmp_path / "app", {"requirements.txt": "-r big.txt\n-r /dev/zero\n"})
    (app / "big.txt").write_text("channels\n" + " " * detect_module.MAX_READ)
    assert detect(str(app))[0] is None  # neither the oversized file nor the device is read
