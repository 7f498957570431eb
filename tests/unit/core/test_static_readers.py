"""The static readers on hostile input: every parser failure becomes the one-line
what/why/fix message (or a dependency problem), never an exception, and stays fast."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from buildpack.core.analysis import analyze
from buildpack.core.deps import read_dependencies
from tests.support.sample_app import ASGI, SETTINGS, app

TOO_COMPLEX = "too long or too deeply nested to analyse"


def _analyze(root: Path, files: dict[str, str | bytes | None]) -> list[str]:
    app(root, files)
    started = time.monotonic()
    plan = analyze(root)
    assert time.monotonic() - started < 20
    return plan.errors


def test_settings_with_a_100000_term_expression(tmp_path: Path) -> None:
    # RecursionError from the parser (3.11+) or from folding the value (3.10).
    long = SETTINGS + "X = " + "+".join(["1"] * 100_000) + "\n"
    errors = _analyze(tmp_path, {"proj/settings.py": long})
    assert errors == [
        f"Cannot analyse proj/settings.py: {TOO_COMPLEX} (the build reads it without running it)."
        "\nFix: split the very long or deeply nested expression into several statements."
    ]


def test_settings_parser_memory_error(tmp_path: Path) -> None:
    chain = SETTINGS + "X = " + " if a else ".join(["1"] * 100_000) + "\n"  # MemoryError
    errors = _analyze(tmp_path, {"proj/settings.py": chain})
    assert len(errors) == 1 and TOO_COMPLEX in errors[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"X = 1\x00\n", "source code string cannot contain null bytes"),
        (b"# -*- coding: bogus -*-\nX = 1\n", "SyntaxError: unknown encoding: bogus"),
        # Python 3.14 words it "Non-UTF-8 code starting with '\xff'", older ones "(unicode error)"
        (b"X = '\xff'\n", "SyntaxError: "),
    ],
)
def test_settings_value_and_unicode_errors(tmp_path: Path, content: bytes, expected: str) -> None:
    errors = _analyze(tmp_path, {"proj/settings.py": content})
    assert len(errors) == 1
    assert "proj/settings.py" in errors[0] and expected in errors[0], errors[0]
    if content.startswith(b"X = '"):
        assert re.search(r"unicode error|Non-UTF-8 code", errors[0]), errors[0]
    assert "Fix: " in errors[0]


def test_settings_that_are_special_files(tmp_path: Path) -> None:
    app(tmp_path, {"proj/settings.py": None})
    os.mkfifo(tmp_path / "proj" / "settings.py")
    assert "has no file in the repository" in analyze(tmp_path).errors[0]
    (tmp_path / "proj" / "settings.py").unlink()
    (tmp_path / "proj" / "settings.py").symlink_to("settings.py")  # a loop
    assert "has no file in the repository" in analyze(tmp_path).errors[0]


def test_values_that_double_stay_bounded(tmp_path: Path) -> None:
    lines = ['X = ["channels_redis.core.RedisChannelLayer"]', 'L = ["a"]', 'S = "s"']
    lines += ["X = [X, X]", "L = L + L", "S = S + S", "L.extend(L)"] * 64
    lines += ['CHANNEL_LAYERS = {"default": {"BACKEND": "x.Layer", "CONFIG": X}}']
    lines += ["INSTALLED_APPS += L", "X = {[1]: 2}"]
    app(tmp_path, {"proj/settings.py": SETTINGS + "\n".join(lines) + "\n"})
    started = time.monotonic()
    plan = analyze(tmp_path)
    assert time.monotonic() - started < 10
    assert plan.errors == []
    assert plan.settings.channel_layers is not None
    assert plan.settings.channel_layers.backends == ["x.Layer"]
    assert plan.settings.installed_apps == []  # too big to fold: unknown, not 2**64 entries


def test_a_work_budget_stops_endless_settings(tmp_path: Path) -> None:
    star = "from proj.base import *\n" * 5000
    base = "from proj.settings import *\n" + "".join(f"N{i} = {i}\n" for i in range(100))
    errors = _analyze(tmp_path, {"proj/settings.py": SETTINGS + star, "proj/base.py": base})
    assert len(errors) == 1 and TOO_COMPLEX in errors[0]


def test_asgi_module_too_complex(tmp_path: Path) -> None:
    deep = ASGI + "X = " + "+".join(["x"] * 100_000) + "\n"
    errors = _analyze(tmp_path, {"proj/asgi.py": deep})
    assert len(errors) == 1 and errors[0].startswith("Cannot analyse proj/asgi.py: ")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "which is a directory, not a regular file"),
        (os.mkfifo, "which is a FIFO (named pipe), not a regular file"),
        (lambda p: p.symlink_to("/nonexistent/Procfile"), "which is a symlink to a missing path"),
        (lambda p: p.write_text("web: x\n" * 50_000), "over the 262144-byte limit"),
    ],
)
def test_unusable_procfile_is_an_error(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    app(tmp_path)
    make(tmp_path / "Procfile")
    errors = analyze(tmp_path).errors
    assert len(errors) == 1 and errors[0].startswith("Cannot use your Procfile, ")
    assert reason in errors[0]
    assert "Fix: commit Procfile as a regular text file" in errors[0]


@pytest.mark.parametrize(
    ("setting", "where"),
    [
        ('ASGI_APPLICATION = "proj.asgi.application\\nrelease: touch /tmp/owned"', "ASGI"),
        ('ASGI_APPLICATION = "proj.asgi.app lication"', "ASGI"),
    ],
)
def test_app_paths_that_would_break_a_procfile_line(
    tmp_path: Path, setting: str, where: str
) -> None:
    errors = _analyze(tmp_path, {"proj/settings.py": SETTINGS + setting + "\n"})
    assert len(errors) == 1
    assert errors[0].startswith(f"{where}_APPLICATION ") and "Procfile line" in errors[0]


def test_project_folder_with_a_newline(tmp_path: Path) -> None:
    app(tmp_path / "site\nrelease: touch owned")
    errors = analyze(tmp_path).errors
    assert len(errors) == 1 and "The folder holding manage.py" in errors[0]


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"pyproject.toml": "x = " + "[" * 100_000}, "pyproject.toml: invalid TOML: too deeply"),
        ({"Pipfile.lock": "[" * 100_000}, "Pipfile.lock: too deeply nested to read"),
        ({"uv.lock": "a = " + "{b = " * 50_000}, "uv.lock: invalid TOML: too deeply"),
        ({"requirements.txt": "a; " + "(" * 5000}, "requirements.txt:1: "),
    ],
)
def test_dependency_parsers_never_raise(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    deps = read_dependencies(tmp_path)
    assert any(p.startswith(problem) for p in deps.problems), deps.problems


def test_dependency_special_files_are_problems(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "requirements.txt")
    (tmp_path / "Pipfile").mkdir()
    (tmp_path / "setup.cfg").symlink_to("/dev/zero")
    deps = read_dependencies(tmp_path)
    assert deps.problems == [
        "requirements.txt: is a FIFO (named pipe), not a regular file; not read",
        "Pipfile: is a directory, not a regular file; not read",
        "setup.cfg: is a character device, not a regular file; not read",
    ]


def test_requirement_problems_quote_at_most_200_characters(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("a" * 100_000 + " b\n")
    deps = read_dependencies(tmp_path)
    assert len(deps.problems) == 1 and len(deps.problems[0]) < 400
