"""The CNB build finds the pip that heroku/python's CNB provides, on a Python without any.

heroku/python's CNB makes its venv ``--without-pip`` and installs pip with ``--user`` into a
``pip`` layer (``PYTHONUSERBASE``, ``bin/pip`` on the build PATH); Debian's and Ubuntu's
Pythons ship no ``ensurepip/_bundled`` wheel. The stand-in here does the same, on a copy of
this suite's interpreter whose ``ensurepip`` has no pip wheel at all, so only the pip layer
can make the build work.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.apps import fixture_meta
from tests.support.cnb_platform import (
    CnbPlatform,
    PythonStandIn,
    path_with_only,
    python_without_pip_wheel,
)
from tests.support.paths import FIXTURES
from tests.support.ports import free_port, wait_for_port
from tests.support.procs import ProcessGroup
from tests.support.ws import assert_fixture_sockets, http_get

pytestmark = pytest.mark.e2e
HOSTS = {"DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]"}


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """This suite's Python, without pip and without any pip wheel for ``ensurepip``."""
    base = sys._base_executable  # type: ignore[attr-defined]
    python = python_without_pip_wheel(base, tmp_path_factory.mktemp("bare") / "python")
    probe = (
        "import importlib.util, json, pathlib, sysconfig; "
        "stdlib = pathlib.Path(sysconfig.get_path('stdlib')); "
        "print(json.dumps([importlib.util.find_spec('pip') is None, "
        "[str(w) for w in stdlib.glob('ensurepip/_bundled/*.whl')], "
        "sysconfig.get_config_var('WHEEL_PKG_DIR') or '']))"
    )
    facts = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(facts.stdout) == [True, [], ""]
    return python


@pytest.mark.smoke
def test_cnb_build_takes_pip_from_the_python_buildpacks_pip_layer(
    tmp_path: Path, bare_python: str, procs: ProcessGroup
) -> None:
    cnb = CnbPlatform(tmp_path / "cnb", PythonStandIn(base=bare_python))
    build = cnb.build(FIXTURES / "tutorial", dict(HOSTS))
    output = build.output()
    assert build.built, output or build.output("heroku/python")
    venv = build.layers / "heroku_python" / "venv"
    assert not list(venv.glob("lib/python*/site-packages/pip")), "the venv has no pip"
    pip_site = build.layers / "heroku_python" / "pip"
    assert f"pip: {pip_site}/lib/python" in output, output
    assert "Traceback" not in output
    port = free_port()
    web = cnb.start(procs, build, "web", port=port)
    wait_for_port(port, proc=web, timeout=60)
    meta = fixture_meta("tutorial")
    assert http_get(f"http://[::1]:{port}{meta['http']['path']}")[0] == 200
    assert_fixture_sockets(meta, port)
    assert web.stop(timeout=30) == 0, web.tail()


@pytest.mark.smoke
def test_cnb_build_falls_back_to_the_interpreters_ensurepip_wheel(tmp_path: Path) -> None:
    """No pip layer and none on PATH, but the interpreter's ensurepip has its wheel (pyenv's
    ``_bundled``; Debian's ``/usr/share/python-wheels`` in a Debian root): pip runs from it."""
    stand_in = PythonStandIn(base=sys._base_executable, pip_layer=False)  # type: ignore[attr-defined]
    cnb = CnbPlatform(tmp_path / "cnb", stand_in, build_path=path_with_only(tmp_path / "tools"))
    build = cnb.build(FIXTURES / "tutorial", dict(HOSTS))
    assert build.built, build.output() or build.output("heroku/python")
    assert re.search(r"pip: \S+/pip-[0-9.]+-py3-none-any\.whl\n", build.output()), build.output()


@pytest.mark.smoke
def test_cnb_build_without_any_pip_says_what_to_do(tmp_path: Path, bare_python: str) -> None:
    """No pip in the venv, no pip layer, none on PATH, no ensurepip wheel: one clear error."""
    stand_in = PythonStandIn(base=bare_python, pip_layer=False)
    cnb = CnbPlatform(tmp_path / "cnb", stand_in, build_path=path_with_only(tmp_path / "tools"))
    build = cnb.build(FIXTURES / "tutorial", dict(HOSTS))
    output = build.output()
    assert not build.built
    assert " !     Error: Could not find pip for the app's Python: " in output, output
    assert "has no pip module, PYTHONUSERBASE and PATH hold no pip" in output
    assert "Fix: list heroku/python (it provides pip) before channels-buildpack" in output
    assert "Traceback" not in output


def test_cnb_first_build_after_an_earlier_one_installs_our_runtime_without_the_index(
    tmp_path: Path,
) -> None:
    """Our cache layer keeps the wheels of our runtime's pins: a first build of another app
    (the cache from an earlier deploy) installs them from files, in one pip run, so an
    index that cannot be reached does not matter."""
    cnb = CnbPlatform(tmp_path / "cnb")
    earlier = cnb.build(FIXTURES / "tutorial", dict(HOSTS))
    assert earlier.built, earlier.output()
    wheels = earlier.lifecycle.cache_dir / "channels-buildpack_channels" / "cache"
    names = {p.name.split("-")[0] for p in wheels.rglob("dependency-wheels/*/*.whl")}
    assert {"packaging", "dj_database_url", "uvloop"} <= names, names  # all our pins
    unreachable = {**HOSTS, "PIP_INDEX_URL": "http://127.0.0.1:9/simple/"}
    build = cnb.build(FIXTURES / "runtime_app", unreachable)
    assert build.built, build.output()
    site = build.layers / "channels-buildpack_channels" / "runtime" / "site"
    assert (site / "dj_database_url").is_dir() and (site / "uvloop").is_dir()
    assert "Traceback" not in build.output()
