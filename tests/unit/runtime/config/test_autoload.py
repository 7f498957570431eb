"""Unit tests for ``buildpack.runtime.config.autoload``, for real: child interpreters where
the installed ``channels_buildpack.pth`` runs at start, exactly as on a dyno.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

import pytest

from buildpack.runtime.config.settings import CHECKS_APP
from buildpack.runtime.layers import MEMORY_BACKEND, REDIS_BACKEND, STOCK_MEMORY_BACKEND
from tests.support.paths import REPO

REDIS_PW = "redisPW9876"
PG_PW = "postgresPW5432"
REDIS_URL = f"rediss://:{REDIS_PW}@ec2-1-2-3-4.compute-1.amazonaws.com:6380"
DATABASE_URL = f"postgres://u1:{PG_PW}@ec2-9-8-7-6.compute-1.amazonaws.com:5432/d1"
PREFIX = "channels-buildpack: settings: "


# ---- autoload, for real, at interpreter start ----------------------------------------------

PROBE = """
import json, os, sys
from django.conf import settings
layers = settings.CHANNEL_LAYERS
name = os.environ["DJANGO_SETTINGS_MODULE"]
print(json.dumps({
    "backend": layers["default"]["BACKEND"],
    "hosts": layers["default"].get("CONFIG", {}).get("hosts"),
    "settings_module": settings.SETTINGS_MODULE,
    "apps": list(settings.INSTALLED_APPS),
    "autoload_imported": "buildpack.runtime.config.autoload" in sys.modules,
    "buildpack_imported": "buildpack" in sys.modules,
    "finder_left": any(type(f).__name__ == "SettingsFinder" for f in sys.meta_path),
    "module_configured": bool(getattr(sys.modules[name], "_channels_buildpack_configured", 0)),
    "base_backend": getattr(sys.modules.get(name + ".base"), "CHANNEL_LAYERS", {})
        .get("default", {}).get("BACKEND"),
}))
"""

USER_SETTINGS = """
SECRET_KEY = "not-secret-test-key"
INSTALLED_APPS = ["django.contrib.contenttypes"]
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
"""

CHILD_REDIS = f"redis://:{REDIS_PW}@redis.example.com:6379"


@pytest.fixture(scope="module")
def installed_pth() -> Path:
    """The .pth in this interpreter's site-packages is the repository's (not a stale copy)."""
    pth = Path(sysconfig.get_paths()["purelib"]) / "channels_buildpack.pth"
    assert pth.is_file(), f"{pth} missing: pip install -e {REPO}"
    assert pth.read_text() == (REPO / "buildpack" / "channels_buildpack.pth").read_text()
    return pth


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHANNELS_", "DJANGO_", "HEROKU_", "PYTHON"))
        and k not in ("REDIS_URL", "DATABASE_URL", "DYNO", "CLOUDAMQP_URL", "RABBITMQ_URL")
    }
    env.update(PYTHONPATH=str(tmp_path), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def run_child(
    tmp_path: Path, code: str = PROBE, **extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(tmp_path, **extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    data = json.loads(proc.stdout) if proc.returncode == 0 else {}
    return proc, data


@pytest.fixture
def user_settings(tmp_path: Path, installed_pth: Path) -> Path:
    (tmp_path / "mysettings.py").write_text(USER_SETTINGS)
    return tmp_path


@pytest.mark.parametrize("switch", ["on", " Yes "])
def test_autoload_configures_the_user_settings_module(user_settings: Path, switch: str) -> None:
    proc, data = run_child(
        user_settings,
        CHANNELS_BUILDPACK_SETTINGS=switch,
        DJANGO_SETTINGS_MODULE="mysettings",
        REDIS_URL=CHILD_REDIS,
    )
    assert proc.returncode == 0, proc.stderr
    assert data["backend"] == REDIS_BACKEND
    assert data["hosts"] == [{"address": CHILD_REDIS}]
    assert data["settings_module"] == "mysettings"
    assert data["apps"] == ["django.contrib.contenttypes", CHECKS_APP]
    assert data["autoload_imported"] is True
    assert data["finder_left"] is False, "the finder removes itself after one use"
    assert data["module_configured"] is True
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{PREFIX}mysettings: CHANNEL_LAYERS: channels_redis core")
    assert REDIS_PW not in proc.stderr


@pytest.mark.parametrize("switch", [None, "off", "0", ""])
def test_autoload_switch_unset_or_off_imports_nothing(
    user_settings: Path, switch: str | None
) -> None:
    extra = {"CHANNELS_BUILDPACK_SETTINGS": switch} if switch is not None else {}
    proc, data = run_child(
        user_settings, DJANGO_SETTINGS_MODULE="mysettings", REDIS_URL=CHILD_REDIS, **extra
    )
    assert proc.returncode == 0, proc.stderr
    assert data["backend"] == STOCK_MEMORY_BACKEND
    assert data["apps"] == ["django.contrib.contenttypes"]
    assert data["autoload_imported"] is False
    assert data["buildpack_imported"] is False
    assert data["module_configured"] is False
    assert proc.stderr == ""


def test_autoload_settings_package_star_importing_base(tmp_path: Path, installed_pth: Path) -> None:
    pkg = tmp_path / "proj"
    (pkg / "settings").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "settings" / "base.py").write_text(USER_SETTINGS)
    (pkg / "settings" / "__init__.py").write_text("from .base import *  # noqa\n")
    proc, data = run_child(
        tmp_path,
        CHANNELS_BUILDPACK_SETTINGS="on",
        DJANGO_SETTINGS_MODULE="proj.settings",
        REDIS_URL=CHILD_REDIS,
    )
    assert proc.returncode == 0, proc.stderr
    assert data["backend"] == REDIS_BACKEND
    assert data["settings_module"] == "proj.settings"
    assert data["module_configured"] is True
    # only the module Django reads is configured, not the base it star-imports
    assert data["base_backend"] == STOCK_MEMORY_BACKEND
    assert proc.stderr.startswith(f"{PREFIX}proj.settings: CHANNEL_LAYERS: channels_redis core")


def test_autoload_manage_py_style_setdefault_after_start(user_settings: Path) -> None:
    code = 'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysettings")\n' + PROBE
    proc, data = run_child(user_settings, code, CHANNELS_BUILDPACK_SETTINGS="on", REDIS_URL="")
    assert proc.returncode == 0, proc.stderr
    assert data["backend"] == MEMORY_BACKEND, "stock in-memory replaced by ours"
    assert data["settings_module"] == "mysettings"
    assert data["autoload_imported"] is True
    assert data["finder_left"] is False
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{PREFIX}WARNING: REDIS_URL is set but empty, so it is ignored."
    assert lines[1].startswith(f"{PREFIX}mysettings: CHANNEL_LAYERS: in-memory")


def test_autoload_plain_import_of_the_settings_module(user_settings: Path) -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import mysettings
        print(json.dumps({"backend": mysettings.CHANNEL_LAYERS["default"]["BACKEND"]}))
        """
    )
    proc, data = run_child(
        user_settings,
        code,
        CHANNELS_BUILDPACK_SETTINGS="on",
        DJANGO_SETTINGS_MODULE="mysettings",
        CHANNELS_BUILDPACK_QUIET="1",
    )
    assert proc.returncode == 0, proc.stderr
    assert data == {"backend": MEMORY_BACKEND}
    assert proc.stderr == ""


def test_autoload_config_error_exits_1_with_one_line_and_no_traceback(user_settings: Path) -> None:
    proc, _ = run_child(
        user_settings,
        CHANNELS_BUILDPACK_SETTINGS="on",
        DJANGO_SETTINGS_MODULE="mysettings",
        REDIS_URL=f"http://:{REDIS_PW}@x",
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{PREFIX}ERROR: REDIS_URL has scheme 'http'")
    assert "Traceback" not in proc.stderr
    assert REDIS_PW not in proc.stderr
