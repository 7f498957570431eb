"""``channels-buildpack doctor`` as a real command against fixture apps, a real Redis (plain,
password, TLS with a self-signed certificate) and a real SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import copy_fixture
from tests.support.redis import RedisServer

HOST = "myapp.herokuapp.com"


def doctor(app: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(app), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "buildpack", "doctor", str(app), *args],
        cwd=app,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_doctor_fails_on_a_host_that_would_answer_400_and_names_the_fix(tmp_path: Path) -> None:
    app = copy_fixture("runtime_app", tmp_path)
    result = doctor(app, "--host", HOST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL  Hosts: {HOST} is not in ALLOWED_HOSTS" in result.stdout
    assert f"heroku config:set DJANGO_ALLOWED_HOSTS={HOST}" in result.stdout
    assert "DYNO=web.1 assumed" in result.stdout
    assert "web: channels-buildpack web rt.asgi:application" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.redis
def test_doctor_passes_with_reachable_redis_and_never_prints_the_password(
    tmp_path: Path, redis_factory: Any
) -> None:
    password = "doctor-pw-7c1e9a"
    server: RedisServer = redis_factory(password=password)
    app = copy_fixture("runtime_app", tmp_path)
    token = "metrics-token-5d2b"
    result = doctor(
        app, REDIS_URL=server.url, DJANGO_ALLOWED_HOSTS=HOST, CHANNELS_METRICS_TOKEN=token
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"ok    Redis: redis://:***@127.0.0.1:{server.port}/0 reachable (no TLS)" in result.stdout
    )
    assert f"ok    Hosts: {HOST} is allowed" in result.stdout
    assert "ok    CSRF: same-origin forms" in result.stdout
    assert password not in result.stdout + result.stderr
    assert token not in result.stdout + result.stderr

    server.stop()
    down = doctor(app, REDIS_URL=server.url, DJANGO_ALLOWED_HOSTS=HOST)
    assert down.returncode == 1
    assert "is not reachable (no TLS;" in down.stdout and "heroku redis:info" in down.stdout
    assert password not in down.stdout + down.stderr


@pytest.mark.redis
def test_doctor_reports_the_tls_mode_and_an_untrusted_certificate(
    tmp_path: Path, tls_redis: Any
) -> None:
    app = copy_fixture("runtime_app", tmp_path)
    dyno = doctor(app, REDIS_URL=tls_redis.url, DJANGO_ALLOWED_HOSTS=HOST)
    assert dyno.returncode == 0, dyno.stdout + dyno.stderr
    assert "reachable (TLS, certificate not verified)" in dyno.stdout
    verify = doctor(
        app, REDIS_URL=tls_redis.url, DJANGO_ALLOWED_HOSTS=HOST, CHANNELS_REDIS_TLS_VERIFY="true"
    )
    assert verify.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in verify.stdout
    assert "CHANNELS_REDIS_TLS_VERIFY=false" in verify.stdout


def test_doctor_checks_static_files_and_migrations_on_a_real_database(tmp_path: Path) -> None:
    app = copy_fixture("pipfile_subdir", tmp_path)
    host = "notes.example.com"  # in the fixture's own ALLOWED_HOSTS
    result = doctor(app, "--host", host)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  Static files: django.contrib.staticfiles is installed but STATIC_ROOT" in (
        result.stdout
    )
    assert "migration(s) not applied to this database" in result.stdout
    migrate = subprocess.run(
        [sys.executable, "backend/manage.py", "migrate", "--noinput"],
        cwd=app,
        env={"PATH": os.environ["PATH"], "CHANNELS_BUILDPACK_SETTINGS": "off"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    again = doctor(app, "--host", host)
    assert "ok    Migrations: all applied" in again.stdout
    assert "ok    Database: reachable (sqlite3)" in again.stdout


def test_doctor_static_mode_lints_the_procfile_and_fails_broken_settings(tmp_path: Path) -> None:
    own = doctor(copy_fixture("own_procfile", tmp_path), "--static")
    assert own.returncode == 0, own.stdout
    assert "WARN  Procfile: Procfile 'release' chains commands" in own.stdout
    assert "Settings layer in this environment" not in own.stdout  # never loaded
    broken = doctor(copy_fixture("broken_settings", tmp_path), "--static")
    assert broken.returncode == 1
    assert "FAIL  Build: Your settings cannot be read: brokenproj/settings.py line 28" in (
        broken.stdout
    )
