"""Every error, warning and hint users see is made in ``buildpack/messages/``.

A ``Fix:`` anywhere else in ``buildpack/`` fails, and so does a log warning or error, a typed
error (``ConfigError``, ``LaunchError``...) or a system check given a text written in place.
The shell shims ``bin/compile`` and ``bin/build`` are the documented exception: they print
their error when there is no Python to run the package with.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from buildpack import messages
from buildpack.messages import ConfigError, LaunchError, StatusError, UserError
from tests.support.paths import REPO

PACKAGE = REPO / "buildpack"
MESSAGES = PACKAGE / "messages"
# Calls whose first argument is a text users read: it must come from buildpack.messages.
LOG_CALLS = {"warn", "error", "runtime_warning", "runtime_error"}
ERROR_TYPES = {"UserError", "ConfigError", "LaunchError", "StatusError", "Warning", "Error"}


def _package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _outside_messages(path: Path) -> bool:
    return MESSAGES not in path.parents


def test_no_fix_text_outside_messages() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in _package_files()
        if _outside_messages(path)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if "Fix:" in line
    ]
    assert not found, "Fix: texts outside buildpack/messages/:\n" + "\n".join(found)


def test_only_the_shell_shims_print_a_fix_of_their_own() -> None:
    shims = sorted(
        p.relative_to(REPO).as_posix()
        for p in (REPO / "bin").rglob("*")
        if p.is_file() and "Fix:" in p.read_text(errors="replace")
    )
    assert shims == ["bin/build", "bin/compile"]


def _written_in_place(node: ast.expr) -> bool:
    """A text made where it is used: a literal, an f-string, or a sum or % of those."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _written_in_place(node.left) or _written_in_place(node.right)
    return False


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _user_texts_written_in_place(path: Path, root: Path = REPO) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = _called_name(node)
        if name in LOG_CALLS:
            texts = node.args[-1:]  # log.warn(text), log.runtime_warning(component, text)
        elif name in ERROR_TYPES:
            texts = node.args[:1]
        else:
            continue
        if any(_written_in_place(text) for text in texts):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {name}(...)")
    return found


def test_errors_and_warnings_take_their_text_from_messages() -> None:
    found = [
        place
        for path in _package_files()
        if path.suffix == ".py" and _outside_messages(path)
        for place in _user_texts_written_in_place(path)
    ]
    assert not found, "texts written in place, not in messages:\n" + "\n".join(found)


def test_the_rule_sees_each_form_of_a_text_written_in_place(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text(
        "log.runtime_warning('web', f'x {y}')\n"
        "raise ConfigError('bad value')\n"
        "checks.Warning('a' + b, id='x')\n"
        "log.warn(messages.PROCFILE_NO_WEB)\n"
        "raise LaunchError(messages.CHDIR_MISSING, path=p, cwd=c)\n"
    )
    assert _user_texts_written_in_place(tmp_path / "example.py", tmp_path) == [
        "example.py:1: runtime_warning(...)",
        "example.py:2: ConfigError(...)",
        "example.py:3: Warning(...)",
    ]


@pytest.mark.parametrize("kind", [UserError, ConfigError, LaunchError, StatusError])
def test_a_typed_error_carries_its_data_and_makes_its_text_here(kind: type[UserError]) -> None:
    error = kind(messages.CHDIR_MISSING, path="backend", cwd="/app")
    assert error.template is messages.CHDIR_MISSING
    assert error.data == {"path": "backend", "cwd": "/app"}
    assert str(error) == messages.CHDIR_MISSING.format(path="backend", cwd="/app")
    assert isinstance(error, UserError)


def test_every_template_names_what_it_is_filled_with() -> None:
    # A template is either plain text or a format string; a stray brace would raise at the
    # worst moment (while reporting another problem).
    import string

    for name in dir(messages):
        value = getattr(messages, name)
        if name.isupper() and isinstance(value, str):
            list(string.Formatter().parse(value))  # raises ValueError on a malformed template
