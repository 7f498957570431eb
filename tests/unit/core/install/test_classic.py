"""Unit tests for ``buildpack.core.install.classic``: the app's Python on classic platforms
(its run-time path through ``/app``), and console scripts pointed at it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildpack.core.install import classic as classic_install
from buildpack.core.install.classic import find_app_python, relocate_scripts
from buildpack.core.install.runner import AppPython


def _app_python(build_dir: Path) -> Path:
    bin_dir = build_dir / ".heroku" / "python" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("#!/bin/sh\n", encoding="utf-8")
    python.chmod(0o755)
    return python


def _runtime_link(runtime_root: Path, build_dir: Path) -> Path:
    """Emulate heroku/python's ``/app/.heroku/python -> BUILD_DIR/.heroku/python`` link."""
    link = runtime_root / ".heroku" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(build_dir / ".heroku" / "python", target_is_directory=True)
    return link / "bin" / "python"


@pytest.fixture(autouse=True)
def _no_real_app_link(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The machine running the tests might have a real /app/.heroku/python.
    monkeypatch.setattr(
        classic_install, "RUNTIME_PYTHON_LINKS", (str(tmp_path / "none" / "python"),)
    )


def test_find_app_python_missing(tmp_path: Path) -> None:
    assert find_app_python(tmp_path, "/usr/bin:/bin") is None


def test_find_app_python_prefers_runtime_path_on_path(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    runtime_python = _runtime_link(tmp_path / "app", build)
    path_env = os.pathsep.join(
        ["", "/usr/bin", str(build_python.parent), str(runtime_python.parent), "/bin"]
    )
    app = find_app_python(build, path_env)
    assert app == AppPython(build_python, str(runtime_python), True)
    assert app.prefix == build / ".heroku" / "python"


def test_find_app_python_builtin_runtime_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    runtime_python = _runtime_link(tmp_path / "app", build)
    monkeypatch.setattr(classic_install, "RUNTIME_PYTHON_LINKS", (str(runtime_python),))
    assert find_app_python(build, None) == AppPython(build_python, str(runtime_python), True)


def test_find_app_python_falls_back_to_build_path(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    # Another Python on PATH, and the build's own bin: neither is a run-time path.
    other = _app_python(tmp_path / "other")
    path_env = os.pathsep.join([str(other.parent), str(build_python.parent)])
    app = find_app_python(build, path_env)
    assert app == AppPython(build_python, str(build_python), False)
    assert find_app_python(build, None) == AppPython(build_python, str(build_python), False)


def test_find_app_python_runtime_dir_sharing_a_name_prefix(tmp_path: Path) -> None:
    # /tmp/x/build and /tmp/x/build-runtime: a string prefix, not a parent directory.
    build = tmp_path / "build"
    build_python = _app_python(build)
    runtime_python = _runtime_link(tmp_path / "build-runtime", build)
    app = find_app_python(build, str(runtime_python.parent))
    assert app == AppPython(build_python, str(runtime_python), True)


def test_find_app_python_build_dir_reached_through_a_symlink(tmp_path: Path) -> None:
    # BUILD_DIR given through a symlink (like /tmp -> /private/tmp): its own bin on PATH is
    # still the build path, not a run-time one.
    real = tmp_path / "real"
    _app_python(real)
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    build_python = alias / ".heroku" / "python" / "bin" / "python"
    app = find_app_python(alias, str(build_python.parent))
    assert app == AppPython(build_python, str(build_python), False)


def _script(path: Path, shebang: str, body: str = "import sys\nprint(sys.argv)\n") -> Path:
    path.write_text(f"#!{shebang}\n{body}", encoding="utf-8")
    return path


def test_relocate_scripts(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    app = AppPython(build_python, str(build_python), False)
    bin_dir = build_python.parent
    body = "# -*- coding: utf-8 -*-\nfrom buildpack.cli import main\nmain()\n"
    ours = _script(bin_dir / "channels-buildpack", str(build_python), body)
    versioned = _script(bin_dir / "tool-a", f"{build_python}3.12 -E", body)
    runtime = _script(bin_dir / "tool-b", "/app/.heroku/python/bin/python", body)
    not_listed = _script(bin_dir / "tool-c", str(build_python), body)
    relocate_scripts(app, ["channels-buildpack", "tool-a", "tool-b", "missing"])
    assert ours.read_text(encoding="utf-8") == "#!/usr/bin/env python3\n" + body
    assert versioned.read_text(encoding="utf-8") == "#!/usr/bin/env python3\n" + body
    assert runtime.read_text(encoding="utf-8") == "#!/app/.heroku/python/bin/python\n" + body
    assert not_listed.read_text(encoding="utf-8") == f"#!{build_python}\n" + body


def test_relocate_scripts_ignores_non_shebang_mentions(tmp_path: Path) -> None:
    build_python = _app_python(tmp_path / "build")
    script = build_python.parent / "tool"
    text = f"# made by {build_python}\nprint(1)\n"
    script.write_text(text, encoding="utf-8")
    relocate_scripts(AppPython(build_python, str(build_python), False), ["tool"])
    assert script.read_text(encoding="utf-8") == text
