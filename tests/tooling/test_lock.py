"""The development environment is uv.lock, and the slug pins are a copy of it.

A fresh clone must test what the lock says whatever the index serves that day (issue 19:
CI turned red when uvicorn published a release), and an app must get, on its Python, the
versions the suite ran there.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import dev
from buildpack.core import pins
from tests.support import lockfile

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def _fake_wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal, installable wheel of *name* *version* (a release the index "now" offers)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{name.replace('-', '_')}/__init__.py": "FAKE = True\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def _locked_here(lock: dict[str, object]) -> dict[str, str]:
    """name -> version of every registry package the lock installs on this Python."""
    packages = lock["package"]
    assert isinstance(packages, list)
    names = {p["name"] for p in packages if "registry" in p.get("source", {})}
    found = {}
    for name in names:
        version = lockfile.versions(name, lock).get(THIS_PYTHON)
        if version:
            found[name] = version
    return found


def _installed(python: Path) -> dict[str, str]:
    """name -> version of what *python*'s environment holds."""
    script = (
        "import importlib.metadata as m\n"
        "for d in m.distributions(): print(d.metadata['Name'], d.version)\n"
    )
    out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    pairs = (line.split() for line in out.stdout.splitlines())
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pairs}


def test_slug_pins_equal_the_lock() -> None:
    assert lockfile.expected_pins(list(pins.PINS)) == pins.PINS
    backend = lockfile.BACKEND_PIN.search(lockfile.PYPROJECT.read_text())
    assert backend is not None
    assert backend.group(2) == lockfile.backend_version()


def test_the_pins_of_this_python_are_what_the_tests_run() -> None:
    for name in pins.PINS:
        if name == "tomli" and sys.version_info >= (3, 11):
            continue  # only installed where the standard library lacks tomllib
        assert metadata.version(name) == pins.version(name), name


KEY_PACKAGES = ("django", "channels", "daphne", "uvicorn", "redis", "pytest", "ruff", "uv", "pip")


def _assert_is_the_lock(python: Path) -> None:
    """Every locked package *python* has is at the lock's version for this Python (a package
    whose dependency marker excludes this machine, e.g. colorama, is absent)."""
    installed = _installed(python)
    locked = _locked_here(lockfile.load())
    different = {
        name: (version, installed[name])
        for name, version in locked.items()
        if name in installed and installed[name] != version
    }
    assert different == {}
    assert {name: installed.get(name) for name in KEY_PACKAGES} == {
        name: locked[name] for name in KEY_PACKAGES
    }


def test_this_environment_is_the_lock() -> None:
    _assert_is_the_lock(Path(sys.executable))


def test_the_lock_is_up_to_date_with_pyproject() -> None:
    result = subprocess.run(
        [str(dev.UV), "lock", "--check"], cwd=dev.ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_lock_has_a_date_and_hashes() -> None:
    lock = lockfile.load()
    options = lock.get("options")
    assert isinstance(options, dict)
    assert options["exclude-newer"] == dev.lock_date()
    packages = lock["package"]
    assert isinstance(packages, list)
    for package in packages:
        for file in [*package.get("wheels", []), *[package.get("sdist") or {}]]:
            if file:
                assert file["hash"].startswith("sha256:"), package["name"]


@pytest.mark.slow
def test_an_index_offering_newer_releases_gives_the_same_environment(tmp_path: Path) -> None:
    # A newer uvicorn (and channels) "published today", offered to every install below.
    offered = tmp_path / "offered"
    _fake_wheel(offered, "uvicorn", "99.0.0")
    _fake_wheel(offered, "channels", "99.0.0")
    uv = str(dev.UV)
    environment = tmp_path / "venv"
    base = sys._base_executable  # type: ignore[attr-defined]
    subprocess.run([uv, "venv", "-q", "--python", base, str(environment)], check=True)
    python = environment / "bin" / "python"
    env_vars = {"UV_FIND_LINKS": str(offered), "PIP_FIND_LINKS": str(offered)}

    # The release is really there: a resolving install takes it.
    probe = subprocess.run(
        [uv, "pip", "install", "--dry-run", "--python", str(python), "uvicorn"],
        env={**os.environ, **env_vars},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "uvicorn==99.0.0" in probe.stdout + probe.stderr

    # dev.py's install: the lock as written.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env_vars.items():
            patch.setenv(name, value)
        dev.sync_lock(python, environment)
    installed = _installed(python)
    assert installed["uvicorn"] == pins.version("uvicorn") != "99.0.0"
    assert installed["channels"] == pins.version("channels") != "99.0.0"
    _assert_is_the_lock(python)
