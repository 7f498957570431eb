"""Unit tests for buildpack.runtime.config.database (DATABASE_URL -> DATABASES, ASGI vs WSGI) and
buildpack.runtime.config.hosts (proxy header, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS)."""

from __future__ import annotations

import sys
import types
from typing import Any

import dj_database_url
import pytest

from buildpack.messages import ConfigError
from buildpack.runtime.config import database, hosts

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


# ---- hosts.decide ---------------------------------------------------------------------------


def test_proxy_header_only_on_a_dyno_and_only_when_unset() -> None:
    updates, notes = hosts.decide({"DYNO": "web.1"}, {})
    assert updates == {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}
    assert notes[0] == "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (behind the router)"
    assert hosts.decide({}, {})[0] == {}
    for user_value in (None, ("HTTP_X_FORWARDED_SSL", "on")):
        updates, notes = hosts.decide({"DYNO": "web.1"}, {"SECURE_PROXY_SSL_HEADER": user_value})
        assert "SECURE_PROXY_SSL_HEADER" not in updates
        assert not any("SECURE_PROXY_SSL_HEADER" in n for n in notes)
    # CHANNELS_PROXY_HOPS=0 says nothing is in front: no proxy header is trusted at all
    assert hosts.decide({"DYNO": "web.1", "CHANNELS_PROXY_HOPS": "0"}, {})[0] == {}
    two_hops = {"DYNO": "web.1", "CHANNELS_PROXY_HOPS": "2"}
    assert "SECURE_PROXY_SSL_HEADER" in hosts.decide(two_hops, {})[0]


@pytest.mark.parametrize(
    "raw",
    [
        "a.example.com,b.example.com",
        "a.example.com b.example.com",
        " a.example.com ,\tb.example.com, ,",
        "a.example.com,b.example.com,a.example.com",
    ],
)
def test_django_allowed_hosts_separators(raw: str) -> None:
    updates, notes = hosts.decide({"DJANGO_ALLOWED_HOSTS": raw}, {"ALLOWED_HOSTS": []})
    assert updates == {"ALLOWED_HOSTS": ["a.example.com", "b.example.com"]}
    assert "ALLOWED_HOSTS=['a.example.com', 'b.example.com']" in notes


def test_django_allowed_hosts_scheme_and_path_stripped_with_note() -> None:
    environ = {"DJANGO_ALLOWED_HOSTS": "https://a.example.com/,HTTP://b.example.com/x/y,c.com"}
    updates, notes = hosts.decide(environ, {})
    assert updates["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com", "c.com"]
    assert (
        "DJANGO_ALLOWED_HOSTS entry 'https://a.example.com/' used as 'a.example.com' "
        "(hosts have no scheme)" in notes
    )
    assert any("'HTTP://b.example.com/x/y' used as 'b.example.com'" in n for n in notes)
    assert not any("'c.com' used as" in n for n in notes)


def test_platform_domain_added_on_a_dyno_only() -> None:
    environ = {"HEROKU_APP_DEFAULT_DOMAIN_NAME": "myapp-1a2b.herokuapp.com"}
    updates, _ = hosts.decide({**environ, "DYNO": "web.1"}, {"ALLOWED_HOSTS": ["example.com"]})
    assert updates["ALLOWED_HOSTS"] == ["example.com", "myapp-1a2b.herokuapp.com"]
    assert "ALLOWED_HOSTS" not in hosts.decide(environ, {"ALLOWED_HOSTS": ["example.com"]})[0]


def test_user_hosts_kept_first_and_not_duplicated() -> None:
    environ = {
        "DYNO": "web.1",
        "DJANGO_ALLOWED_HOSTS": "example.com,www.example.com",
        "HEROKU_APP_DEFAULT_DOMAIN_NAME": "example.com",
    }
    updates, notes = hosts.decide(environ, {"ALLOWED_HOSTS": ("example.com",)})
    assert updates["ALLOWED_HOSTS"] == ["example.com", "www.example.com"]
    assert "ALLOWED_HOSTS=['example.com', 'www.example.com']" in notes


def test_nothing_to_add_keeps_allowed_hosts_and_notes_the_effective_value() -> None:
    updates, notes = hosts.decide(
        {"DYNO": "web.1", "DJANGO_ALLOWED_HOSTS": "example.com"},
        {"ALLOWED_HOSTS": ["example.com"], "SECURE_PROXY_SSL_HEADER": None},
    )
    assert updates == {}
    assert notes == ["ALLOWED_HOSTS=['example.com']", "CSRF_TRUSTED_ORIGINS=[]"]


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"DYNO": "web.1"},
        {"DYNO": "web.1", "DJANGO_ALLOWED_HOSTS": "", "HEROKU_APP_DEFAULT_DOMAIN_NAME": "  "},
        {"DJANGO_ALLOWED_HOSTS": "a.com", "HEROKU_APP_DEFAULT_DOMAIN_NAME": "x.herokuapp.com"},
    ],
)
def test_never_a_wildcard_unless_given(environ: dict[str, str]) -> None:
    updates, notes = hosts.decide(environ, {"ALLOWED_HOSTS": []})
    assert "*" not in updates.get("ALLOWED_HOSTS", [])
    assert not any("'*'" in n for n in notes)


def test_wildcard_when_given() -> None:
    updates, _ = hosts.decide({"DJANGO_ALLOWED_HOSTS": "*"}, {})
    assert updates["ALLOWED_HOSTS"] == ["*"]


def test_debug_with_empty_allowed_hosts_keeps_django_implicit_hosts() -> None:
    environ = {"DYNO": "web.1", "HEROKU_APP_DEFAULT_DOMAIN_NAME": "app.herokuapp.com"}
    updates, notes = hosts.decide(environ, {"DEBUG": True, "ALLOWED_HOSTS": []})
    assert updates["ALLOWED_HOSTS"] == [".localhost", "127.0.0.1", "[::1]", "app.herokuapp.com"]
    assert "ALLOWED_HOSTS=['.localhost', '127.0.0.1', '[::1]', 'app.herokuapp.com']" in notes
    # Django's own list, so that localhost keeps working exactly as before
    from django.conf import global_settings

    assert global_settings.DEBUG is False
    assert hosts.DEBUG_DEFAULT_HOSTS == [".localhost", "127.0.0.1", "[::1]"]


def test_debug_default_hosts_not_duplicated() -> None:
    updates, _ = hosts.decide({"DJANGO_ALLOWED_HOSTS": "127.0.0.1,a.com"}, {"DEBUG": True})
    assert updates["ALLOWED_HOSTS"] == [".localhost", "127.0.0.1", "[::1]", "a.com"]


def test_no_debug_with_empty_allowed_hosts_adds_only_ours() -> None:
    updates, _ = hosts.decide({"DJANGO_ALLOWED_HOSTS": "a.com"}, {"DEBUG": False})
    assert updates["ALLOWED_HOSTS"] == ["a.com"]


def test_csrf_origins_without_scheme_get_https_with_note() -> None:
    environ = {"DJANGO_CSRF_TRUSTED_ORIGINS": "a.example.com, https://b.example.com/ http://c:8000"}
    updates, notes = hosts.decide(environ, {"CSRF_TRUSTED_ORIGINS": ["https://old.example.com"]})
    assert updates == {
        "CSRF_TRUSTED_ORIGINS": [
            "https://old.example.com",
            "https://a.example.com",
            "https://b.example.com",
            "http://c:8000",
        ]
    }
    assert (
        "DJANGO_CSRF_TRUSTED_ORIGINS entry 'a.example.com' used as 'https://a.example.com'" in notes
    )
    assert sum("DJANGO_CSRF_TRUSTED_ORIGINS entry" in n for n in notes) == 1
    assert notes[-1] == (
        "CSRF_TRUSTED_ORIGINS=['https://old.example.com', 'https://a.example.com', "
        "'https://b.example.com', 'http://c:8000']"
    )


def test_csrf_origins_already_present_are_not_duplicated() -> None:
    updates, notes = hosts.decide(
        {"DJANGO_CSRF_TRUSTED_ORIGINS": "a.example.com,https://a.example.com"},
        {"CSRF_TRUSTED_ORIGINS": ("https://a.example.com",)},
    )
    assert updates == {}
    assert notes[-1] == "CSRF_TRUSTED_ORIGINS=['https://a.example.com']"


def test_notes_include_effective_hosts_and_origins_in_order() -> None:
    environ = {
        "DYNO": "web.1",
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://example.com",
        "HEROKU_APP_DEFAULT_DOMAIN_NAME": "app.herokuapp.com",
    }
    updates, notes = hosts.decide(environ, {})
    assert notes == [
        "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (behind the router)",
        "ALLOWED_HOSTS=['example.com', 'app.herokuapp.com']",
        "CSRF_TRUSTED_ORIGINS=['https://example.com']",
    ]
    assert updates["ALLOWED_HOSTS"] == ["example.com", "app.herokuapp.com"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        (" , ,\n", []),
        ("a", ["a"]),
        ("a,b c\td\n,e", ["a", "b", "c", "d", "e"]),
    ],
)
def test_split_list(raw: str, expected: list[str]) -> None:
    assert hosts.split_list(raw) == expected


def test_server_kind_reads_gunicorn_cmd_args(plain_process: pytest.MonkeyPatch) -> None:
    plain_process.setattr(sys, "argv", ["/app/.heroku/python/bin/gunicorn", "proj.asgi:app"])
    env = {"GUNICORN_CMD_ARGS": "-k uvicorn.workers.UvicornWorker --workers 2"}
    assert database.server_kind(env) == "asgi"
    assert database.server_kind({}) == "wsgi"  # the module name alone says nothing
    plain_process.setattr(sys, "argv", ["gunicorn", "--worker-class=uvicorn_worker.Uvicorn", "x"])
    assert database.server_kind({}) == "asgi"


@pytest.mark.parametrize(
    ("given", "host"),
    [("x.com:443", "x.com"), ("https://x.com:8443/", "x.com"), ("[::1]:8000", "[::1]")],
)
def test_allowed_hosts_entries_lose_their_port(given: str, host: str) -> None:
    updates, notes = hosts.decide({"DJANGO_ALLOWED_HOSTS": given}, {"ALLOWED_HOSTS": []})
    assert updates["ALLOWED_HOSTS"] == [host]
    assert any(given in note and host in note for note in notes)


def test_csrf_origin_with_leading_dot_becomes_a_wildcard() -> None:
    updates, _ = hosts.decide({"DJANGO_CSRF_TRUSTED_ORIGINS": ".example.com"}, {})
    assert updates["CSRF_TRUSTED_ORIGINS"] == ["https://*.example.com"]
