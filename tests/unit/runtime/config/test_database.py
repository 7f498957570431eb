"""Unit tests for ``buildpack.runtime.config.database``: DATABASE_URL -> DATABASES, with
connection choices right for ASGI or WSGI (which server this process is).
"""

from __future__ import annotations

import sys
import types
from typing import Any

import dj_database_url
import pytest

from buildpack.messages import ConfigError
from buildpack.runtime.config import database

PW = "pgS3cretPW"
REMOTE_URL = f"postgres://u1:{PW}@ec2-9-8-7-6.compute-1.amazonaws.com:5432/d1abc"
SQLITE = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/app/db.sqlite3"}}


def db_decide(environ: dict[str, str], current: Any, server: str = "asgi") -> tuple[Any, Any]:
    new, note = database.decide(environ, current, server)  # type: ignore[arg-type]
    assert note is None or PW not in note
    return new, note


# ---- database.decide ------------------------------------------------------------------------


@pytest.mark.parametrize("environ", [{}, {"DATABASE_URL": ""}, {"DATABASE_URL": "   "}])
def test_no_database_url_keeps_databases(environ: dict[str, str]) -> None:
    assert db_decide({**environ, "DYNO": "web.1"}, SQLITE) == (None, None)


def test_database_url_replaces_sqlite_default_under_asgi() -> None:
    current = {**SQLITE, "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": "r"}}
    new, note = db_decide({"DATABASE_URL": REMOTE_URL}, current, "asgi")
    assert new == {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "d1abc",
            "USER": "u1",
            "PASSWORD": PW,
            "HOST": "ec2-9-8-7-6.compute-1.amazonaws.com",
            "PORT": 5432,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "DISABLE_SERVER_SIDE_CURSORS": False,
        },
        "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": "r"},
    }
    assert note == (
        "DATABASES from DATABASE_URL postgres://u1:***@ec2-9-8-7-6.compute-1.amazonaws.com:5432"
        "/d1abc (conn_max_age=0 (ASGI))"
    )
    assert current["default"]["ENGINE"] == "django.db.backends.sqlite3", "input not mutated"


def test_database_url_under_wsgi_keeps_connections_with_health_checks() -> None:
    new, note = db_decide({"DATABASE_URL": REMOTE_URL}, SQLITE, "wsgi")
    assert new["default"]["CONN_MAX_AGE"] == database.WSGI_CONN_MAX_AGE == 600
    assert new["default"]["CONN_HEALTH_CHECKS"] is True
    assert note.endswith("(conn_max_age=600, health checks)")


@pytest.mark.parametrize("current", [None, {}, "garbage", {"default": {}}])
def test_database_url_with_no_usable_current_setting(current: Any) -> None:
    new, _ = db_decide({"DATABASE_URL": REMOTE_URL}, current)
    assert set(new) == {"default"}
    assert new["default"]["NAME"] == "d1abc"


@pytest.mark.parametrize(
    ("url", "dyno", "sslmode"),
    [
        (REMOTE_URL, "web.1", "require"),
        (REMOTE_URL.replace("postgres://", "postgresql://"), "worker.2", "require"),
        (REMOTE_URL.replace("postgres://", "pgsql://"), "web.1", "require"),
        (REMOTE_URL, "", None),  # local development
        (f"postgres://u:{PW}@localhost:5432/x", "web.1", None),
        (f"postgres://u:{PW}@127.0.0.1/x", "web.1", None),
        ("postgres:///localdb", "web.1", None),  # Unix socket
        (REMOTE_URL + "?sslmode=disable", "web.1", "disable"),
        (REMOTE_URL + "?sslmode=verify-full", "web.1", "verify-full"),
        (REMOTE_URL + "?sslmode=prefer", "", "prefer"),
    ],
)
def test_sslmode_require_only_on_a_dyno_with_remote_host_and_no_sslmode(
    url: str, dyno: str, sslmode: str | None
) -> None:
    environ = {"DATABASE_URL": url, **({"DYNO": dyno} if dyno else {})}
    new, note = db_decide(environ, SQLITE)
    assert new["default"].get("OPTIONS", {}).get("sslmode") == sslmode
    assert note.endswith(", sslmode=require)") is (sslmode == "require")


def test_mysql_on_a_dyno_gets_no_postgres_sslmode() -> None:
    url = f"mysql://u:{PW}@mysql.example.com:3306/app"
    new, note = db_decide({"DATABASE_URL": url, "DYNO": "web.1"}, SQLITE)
    assert new["default"]["ENGINE"] == "django.db.backends.mysql"
    assert "sslmode" not in new["default"].get("OPTIONS", {})
    assert "sslmode" not in note


def test_user_databases_already_reading_database_url_is_kept() -> None:
    current = {"default": dj_database_url.parse(REMOTE_URL, conn_max_age=600)}
    assert db_decide({"DATABASE_URL": REMOTE_URL, "DYNO": "web.1"}, current) == (
        None,
        "DATABASES already reads DATABASE_URL: kept",
    )


def test_user_databases_with_legacy_psycopg2_engine_name_is_the_same_database() -> None:
    current = {
        "default": {
            "ENGINE": "django.db.backends.postgresql_psycopg2",
            "NAME": "d1abc",
            "HOST": "ec2-9-8-7-6.compute-1.amazonaws.com",
            "PORT": "5432",
        }
    }
    new, note = db_decide({"DATABASE_URL": REMOTE_URL}, current)
    assert new is None
    assert note == "DATABASES already reads DATABASE_URL: kept"


def test_user_remote_database_different_from_database_url_is_kept_with_note() -> None:
    current = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "other",
            "HOST": "db.internal.example.com",
            "PASSWORD": "userpw123",
        }
    }
    new, note = db_decide({"DATABASE_URL": REMOTE_URL, "DYNO": "web.1"}, current)
    assert new is None
    assert note == "DATABASES points at db.internal.example.com, not DATABASE_URL: kept"
    assert "userpw123" not in note


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1", "", None])
def test_user_localhost_postgres_is_replaced(host: str | None) -> None:
    current = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "dev", "HOST": host}}
    new, note = db_decide({"DATABASE_URL": REMOTE_URL, "DYNO": "web.1"}, current)
    assert new["default"]["HOST"] == "ec2-9-8-7-6.compute-1.amazonaws.com"
    assert new["default"]["OPTIONS"] == {"sslmode": "require"}
    assert note.startswith("DATABASES from DATABASE_URL ")


@pytest.mark.parametrize(
    "url",
    [
        f"notascheme://u:{PW}@x/db",
        "notascheme://x",
        "postgres://",
        f"postgres://u:{PW}@",
        f"postgres://u:{PW}@dbhost.example.com",  # no database name
        f"postgres://u:{PW}@h:notaport/db",
        f"postgres://u:{PW}@[::1/db",
        f"postgres//u:{PW}@h/db",
        "garbage",
    ],
)
def test_malformed_database_url_is_a_config_error_without_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        database.decide({"DATABASE_URL": url, "DYNO": "web.1"}, SQLITE, "asgi")
    text = str(info.value)
    assert text.startswith("DATABASE_URL (")
    assert "cannot be used" in text
    assert "heroku config:get DATABASE_URL" in text
    assert PW not in text
    assert "\n" not in text


def test_sqlite_database_url_is_accepted() -> None:
    new, note = db_decide({"DATABASE_URL": "sqlite:////tmp/x.sqlite3", "DYNO": "web.1"}, None)
    assert new["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert new["default"]["NAME"] == "/tmp/x.sqlite3"
    assert "sslmode" not in note


# ---- database.server_kind -------------------------------------------------------------------


@pytest.fixture
def plain_process(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delitem(sys.modules, "gunicorn.app.wsgiapp", raising=False)
    monkeypatch.setattr(sys, "argv", ["manage.py", "runserver"])
    return monkeypatch


@pytest.mark.parametrize("declared", ["asgi", "wsgi"])
def test_server_kind_declared_wins(plain_process: pytest.MonkeyPatch, declared: str) -> None:
    plain_process.setattr(sys, "argv", ["/app/.heroku/python/bin/gunicorn", "proj.wsgi"])
    assert database.server_kind({"CHANNELS_BUILDPACK_SERVER": declared}) == declared


def test_server_kind_reads_os_environ_by_default(plain_process: pytest.MonkeyPatch) -> None:
    plain_process.setenv("CHANNELS_BUILDPACK_SERVER", "wsgi")
    assert database.server_kind() == "wsgi"
    plain_process.setenv("CHANNELS_BUILDPACK_SERVER", "asgi")
    plain_process.setattr(sys, "argv", ["gunicorn", "proj.wsgi"])
    assert database.server_kind() == "asgi"


@pytest.mark.parametrize(
    ("argv", "kind"),
    [
        (["/app/.heroku/python/bin/gunicorn", "proj.wsgi", "--log-file", "-"], "wsgi"),
        (["gunicorn", "proj.wsgi:application"], "wsgi"),
        (["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "proj.asgi:application"], "asgi"),
        (["gunicorn", "proj.asgi:application", "-k", "uvicorn_worker.UvicornWorker"], "asgi"),
        (["/app/.heroku/python/bin/daphne", "proj.asgi:application"], "asgi"),
        (["manage.py", "runworker", "jobs"], "asgi"),
        (["manage.py", "migrate"], "asgi"),
        ([], "asgi"),
    ],
)
def test_server_kind_from_argv(
    plain_process: pytest.MonkeyPatch, argv: list[str], kind: str
) -> None:
    plain_process.setattr(sys, "argv", argv)
    assert database.server_kind({}) == kind
    assert database.server_kind({"CHANNELS_BUILDPACK_SERVER": "bogus"}) == kind


def test_server_kind_python_m_gunicorn(plain_process: pytest.MonkeyPatch) -> None:
    plain_process.setattr(sys, "argv", ["/x/site-packages/gunicorn/__main__.py", "proj.wsgi"])
    plain_process.setitem(sys.modules, "gunicorn.app.wsgiapp", types.ModuleType("wsgiapp"))
    assert database.server_kind({}) == "wsgi"


def test_server_kind_reads_gunicorn_cmd_args(plain_process: pytest.MonkeyPatch) -> None:
    plain_process.setattr(sys, "argv", ["/app/.heroku/python/bin/gunicorn", "proj.asgi:app"])
    env = {"GUNICORN_CMD_ARGS": "-k uvicorn.workers.UvicornWorker --workers 2"}
    assert database.server_kind(env) == "asgi"
    assert database.server_kind({}) == "wsgi"  # the module name alone says nothing
    plain_process.setattr(sys, "argv", ["gunicorn", "--worker-class=uvicorn_worker.Uvicorn", "x"])
    assert database.server_kind({}) == "asgi"
