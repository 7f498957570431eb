"""Unit tests for ``buildpack.core.install.runner``: the app's Python version, and pip's
environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from buildpack.core.install import runner
from buildpack.core.install.runner import AppPython


def test_python_version(tmp_path: Path) -> None:
    current = AppPython(Path(sys.executable), sys.executable, True)
    assert runner.python_version(current) == tuple(sys.version_info[:3])
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 3 12 7\n", encoding="utf-8")
    fake.chmod(0o755)
    assert runner.python_version(AppPython(fake, str(fake), False)) == (3, 12, 7)


def test_pip_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/buildpack")
    env = runner.pip_env(
        tmp_path / "cache",
        {"PIP_INDEX_URL": "https://mirror/simple", "PIP_FIND_LINKS": "", "SECRET_KEY": "s"},
    )
    assert env["PIP_CACHE_DIR"] == str(tmp_path / "cache" / "channels-buildpack" / "pip")
    assert env["PIP_INDEX_URL"] == "https://mirror/simple"
    assert env["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    assert env["PIP_NO_INPUT"] == "1"
    assert "PYTHONPATH" not in env
    assert "SECRET_KEY" not in env
    assert env.get("PIP_FIND_LINKS") == os.environ.get("PIP_FIND_LINKS")
