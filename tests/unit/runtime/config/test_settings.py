"""Unit tests for ``buildpack.runtime.config.settings``: ``configure`` on a plain dict
namespace (what it sets, the one start-up line, the switch, errors without a traceback).
"""

from __future__ import annotations

import copy
import importlib.util
import os
from typing import Any

import pytest

from buildpack import envvars
from buildpack.runtime.config.settings import CHECKS_APP, CONFIGURED_FLAG, MODE_FLAG, configure
from buildpack.runtime.layers import MEMORY_BACKEND, REDIS_BACKEND, STOCK_MEMORY_BACKEND

REDIS_PW = "redisPW9876"
PG_PW = "postgresPW5432"
REDIS_URL = f"rediss://:{REDIS_PW}@ec2-1-2-3-4.compute-1.amazonaws.com:6380"
DATABASE_URL = f"postgres://u1:{PG_PW}@ec2-9-8-7-6.compute-1.amazonaws.com:5432/d1"
PREFIX = "channels-buildpack: settings: "


def namespace(**extra: Any) -> dict[str, Any]:
    return {
        "__name__": "proj.settings",
        "DEBUG": False,
        "INSTALLED_APPS": ["django.contrib.contenttypes", "channels"],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db"}},
        **extra,
    }


def err_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == "", "the settings layer never writes to stdout"
    return captured.err.splitlines()


# ---- configure() on a dict ----------------------------------------------------------------


def test_configure_applies_everything_and_announces_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns = namespace()
    environ = {
        "REDIS_URL": REDIS_URL,
        "DATABASE_URL": DATABASE_URL,
        "DYNO": "web.1",
        "DJANGO_ALLOWED_HOSTS": "example.com",
        "CHANNELS_BUILDPACK_SERVER": "asgi",
    }
    notes = configure(ns, environ=environ)
    assert ns["CHANNEL_LAYERS"] == {
        "default": {
            "BACKEND": REDIS_BACKEND,
            "CONFIG": {
                "hosts": [
                    {"address": REDIS_URL, "ssl_cert_reqs": None, "ssl_check_hostname": False}
                ],
                "capacity": 100,
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
    assert ns[MODE_FLAG] == "redis"
    assert ns[CONFIGURED_FLAG] is True
    assert ns["DATABASES"]["default"]["HOST"] == "ec2-9-8-7-6.compute-1.amazonaws.com"
    assert ns["DATABASES"]["default"]["CONN_MAX_AGE"] == 0
    assert ns["DATABASES"]["default"]["OPTIONS"] == {"sslmode": "require"}
    assert ns["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert ns["ALLOWED_HOSTS"] == ["example.com"]
    assert ns["INSTALLED_APPS"] == ["django.contrib.contenttypes", "channels", CHECKS_APP]
    assert notes[0].startswith("CHANNEL_LAYERS: channels_redis core, exactly-once (1 host: ")
    assert notes[1].startswith("DATABASES from DATABASE_URL postgres://u1:***@")
    assert notes[2:] == [
        "SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (behind the router)",
        "ALLOWED_HOSTS=['example.com']",
        "CSRF_TRUSTED_ORIGINS=[]",
    ]
    lines = err_lines(capsys)
    assert lines == [
        f"{PREFIX}proj.settings: "
        + " | ".join(notes)
        + " (disable: CHANNELS_BUILDPACK_SETTINGS=off)"
    ]
    assert REDIS_PW not in lines[0]
    assert PG_PW not in lines[0]


def test_configure_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    ns = namespace()
    first = configure(ns, environ={"REDIS_URL": REDIS_URL, "DYNO": "web.1"})
    assert first
    snapshot = copy.deepcopy(ns)
    capsys.readouterr()
    # even a different environment does not re-apply anything
    second = configure(ns, environ={"CHANNELS_LAYER": "memory", "DYNO": "worker.1"})
    assert second == []
    assert ns == snapshot
    assert ns["INSTALLED_APPS"].count(CHECKS_APP) == 1
    assert err_lines(capsys) == []


@pytest.mark.parametrize("value", ["off", "OFF", " false ", "0", "no"])
def test_switch_off_leaves_the_namespace_untouched(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = namespace(CHANNEL_LAYERS={"default": {"BACKEND": STOCK_MEMORY_BACKEND}})
    before = copy.deepcopy(ns)
    environ = {"CHANNELS_BUILDPACK_SETTINGS": value, "REDIS_URL": "http://broken", "DYNO": "w.1"}
    assert configure(ns, environ=environ) == []
    assert ns == before
    assert err_lines(capsys) == []


@pytest.mark.parametrize("value", ["", "on", "1", "true", "yes", "auto"])
def test_switch_on_or_unset_applies(value: str) -> None:
    assert envvars.settings_enabled({"CHANNELS_BUILDPACK_SETTINGS": value})
    ns = namespace()
    configure(ns, environ={"CHANNELS_BUILDPACK_SETTINGS": value}, announce=False)
    assert ns["CHANNEL_LAYERS"]["default"]["BACKEND"] == MEMORY_BACKEND


@pytest.mark.parametrize(
    ("apps", "expected"),
    [
        (["a"], ["a", CHECKS_APP]),
        (("a", "b"), ["a", "b", CHECKS_APP]),
        ([], [CHECKS_APP]),
        (["a", "buildpack"], ["a", "buildpack"]),
        (["a", CHECKS_APP], ["a", CHECKS_APP]),
    ],
)
def test_checks_app_appended_once(apps: Any, expected: list[str]) -> None:
    ns = namespace(INSTALLED_APPS=apps)
    configure(ns, environ={}, announce=False)
    assert list(ns["INSTALLED_APPS"]) == expected
    configure(ns, environ={}, announce=False)
    assert list(ns["INSTALLED_APPS"]) == expected


def test_no_installed_apps_is_not_invented() -> None:
    ns: dict[str, Any] = {"__name__": "s"}
    configure(ns, environ={}, announce=False)
    assert "INSTALLED_APPS" not in ns


def test_user_layer_kept_is_the_same_object() -> None:
    user = {"default": {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": ["redis://r.example.com"]}}}
    ns = namespace(CHANNEL_LAYERS=user)
    configure(ns, environ={"REDIS_URL": REDIS_URL, "DYNO": "web.1"}, announce=False)
    assert ns["CHANNEL_LAYERS"] is user
    assert ns[MODE_FLAG] == "user"


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"REDIS_URL": f"http://:{REDIS_PW}@x"}, "REDIS_URL"),
        ({"REDIS_URL": f"redis//:{REDIS_PW}@x"}, "REDIS_URL"),
        ({"REDIS_URL": f"redis://:{REDIS_PW}@h:port"}, "REDIS_URL"),
        ({"DATABASE_URL": f"notascheme://u:{PG_PW}@x/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgres://u:{PG_PW}@[::1/db"}, "DATABASE_URL"),
        ({"CHANNELS_LAYER": "bogus", "REDIS_URL": REDIS_URL}, "CHANNELS_LAYER"),
        ({"CHANNELS_REDIS_TLS_VERIFY": "perhaps", "REDIS_URL": REDIS_URL}, "CHANNELS_REDIS_TLS"),
        ({"CHANNELS_CAPACITY": "-5", "REDIS_URL": REDIS_URL}, "CHANNELS_CAPACITY"),
        ({"CHANNELS_REDIS_URLS": "REDIS_URL,NOPE_URL", "REDIS_URL": REDIS_URL}, "NOPE_URL"),
    ],
)
def test_config_error_is_one_stderr_line_and_exit_1_without_traceback(
    environ: dict[str, str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        configure(namespace(), environ=environ)
    assert info.value.code == 1
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True  # "from None": no chained traceback
    lines = err_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith(f"{PREFIX}ERROR: ")
    assert names in lines[0]
    assert "Fix" in lines[0] or "valid URL" in lines[0]
    assert "Traceback" not in lines[0]
    assert REDIS_PW not in lines[0]
    assert PG_PW not in lines[0]


def test_announce_line_carries_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {
        "REDIS_URL": REDIS_URL,
        "CHANNELS_REDIS_URLS": f"REDIS_URL,redis://user:{REDIS_PW}x@second.example.com:6379",
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_CSRF_TRUSTED_ORIGINS": "example.com",
    }
    notes = configure(namespace(), environ=environ)
    lines = err_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith(f"{PREFIX}proj.settings: CHANNEL_LAYERS: channels_redis core")
    assert "2 hosts" in lines[0]
    for text in [*lines, *notes]:
        assert REDIS_PW not in text
        assert PG_PW not in text


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_quiet_suppresses_the_announce_line_but_not_warnings(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = namespace()
    notes = configure(ns, environ={"CHANNELS_BUILDPACK_QUIET": value, "DYNO": "worker.1"})
    assert notes, "notes are still returned"
    assert ns[MODE_FLAG] == "memory"
    lines = err_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith(f"{PREFIX}WARNING: No Redis: this dyno (worker.1)")


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_quiet_zero_is_not_quiet(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure(namespace(), environ={"CHANNELS_BUILDPACK_QUIET": value})
    lines = err_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith(f"{PREFIX}proj.settings: CHANNEL_LAYERS: in-memory")


def test_announce_false_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    ns = namespace()
    configure(ns, environ={"REDIS_URL": REDIS_URL}, announce=False)
    assert ns[MODE_FLAG] == "redis"
    assert err_lines(capsys) == []


def test_warnings_come_first_then_the_announce_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure(namespace(), environ={"REDIS_URL": " ", "DYNO": "web.3"})
    lines = err_lines(capsys)
    assert [line[: len(PREFIX) + 8] for line in lines] == [
        f"{PREFIX}WARNING:",
        f"{PREFIX}WARNING:",
        f"{PREFIX}proj.set",
    ]
    assert lines[0] == f"{PREFIX}WARNING: REDIS_URL is set but empty, so it is ignored."


def test_configure_reads_os_environ_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("CHANNELS_", "DJANGO_", "HEROKU_")) or name in (
            "REDIS_URL",
            "DATABASE_URL",
            "DYNO",
            "CLOUDAMQP_URL",
            "RABBITMQ_URL",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REDIS_URL", "redis://r.example.com:6379")
    ns = namespace()
    configure(ns)
    assert ns["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"] == [
        {"address": "redis://r.example.com:6379"}
    ]
    monkeypatch.setenv("CHANNELS_BUILDPACK_SETTINGS", "off")
    untouched = namespace()
    assert configure(untouched) == []
    assert "CHANNEL_LAYERS" not in untouched


@pytest.mark.parametrize("installed", [True, False])
def test_rabbitmq_availability_is_detected(
    installed: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name == "channels_rabbitmq":
            return real("json") if installed else None
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    ns = namespace()
    configure(ns, environ={"CLOUDAMQP_URL": "amqps://u:amqpPW77@rabbit.example.com/v"})
    lines = err_lines(capsys)
    assert ns[MODE_FLAG] == ("rabbitmq" if installed else "memory")
    assert len(lines) == (1 if installed else 2)
    assert all("amqpPW77" not in line for line in lines)
