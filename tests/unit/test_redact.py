"""Unit tests for buildpack.redact: no password or secret value ever reaches a log line."""

from __future__ import annotations

import pytest

from buildpack.redact import (
    MASK,
    describe_config_var,
    redact_text,
    redact_url,
    secret_values,
)

# ---- redact_url -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:s3cretpw@h.example.com:6379", "redis://:***@h.example.com:6379"),
        ("rediss://default:s3cretpw@h:6380/0", "rediss://default:***@h:6380/0"),
        (
            "postgres://u:s3cretpw@db.example.com:5432/name",
            "postgres://u:***@db.example.com:5432/name",
        ),
        # a raw '@' inside the password: everything up to the LAST '@' is userinfo
        ("redis://:p@ss@h:6379", "redis://:***@h:6379"),
        # an empty password still shows that there is one
        ("redis://u:@h:6379", "redis://u:***@h:6379"),
        # user name only, no password: nothing to hide
        ("redis://someuser@h:6379", "redis://someuser@h:6379"),
        ("redis://h:6379/1", "redis://h:6379/1"),
        ("unix:///tmp/redis.sock?db=2", "unix:///tmp/redis.sock?db=2"),
        ("", ""),
    ],
)
def test_redact_url_userinfo(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "key", ["password", "passwd", "pass", "token", "secret", "key", "auth", "Password", "TOKEN"]
)
def test_redact_url_secret_query_parameters(key: str) -> None:
    out = redact_url(f"amqps://h.example.com/vhost?heartbeat=30&{key}=topsecretvalue&db=1")
    assert "topsecretvalue" not in out
    assert f"{key}={MASK}" in out
    # other parameters survive, in order
    assert out.startswith("amqps://h.example.com/vhost?heartbeat=30&")
    assert out.endswith("&db=1")


def test_redact_url_userinfo_and_query_together() -> None:
    out = redact_url("redis://u:pw1secret@h:6379/0?token=tok2secret&ssl_cert_reqs=none")
    assert out == "redis://u:***@h:6379/0?token=***&ssl_cert_reqs=none"


def test_redact_url_without_secrets_is_unchanged() -> None:
    url = "https://example.com/path?a=1&b=two#frag"
    assert redact_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cretpw@[::1",  # urlsplit raises (invalid IPv6)
        "redis//:s3cretpw@host:6379",  # typo: no scheme, so no netloc
        ":s3cretpw@host:6379",  # scheme forgotten
        "redis:s3cretpw@host",  # slashes forgotten
        "redis:/:s3cretpw@host",
    ],
)
def test_redact_url_malformed_urls_never_leak_the_password(url: str) -> None:
    out = redact_url(url)
    assert "s3cretpw" not in out
    assert MASK in out
    assert "host" in out or "::1" in out  # the useful part is still shown


def test_redact_url_control_characters_inside_userinfo() -> None:
    # urlsplit silently drops tabs/newlines, so the parsed userinfo is not in the string
    out = redact_url("redis://:se\tcretpw@h.example.com:6379")
    assert "cretpw" not in out
    assert out == "redis://:***@h.example.com:6379"


def test_redact_url_keeps_at_sign_in_a_path_when_there_is_no_password() -> None:
    url = "https://example.com/users/@someone"
    assert redact_url(url) == url


# ---- redact_text ----------------------------------------------------------------------------


def test_redact_text_several_urls_in_free_text() -> None:
    text = (
        "connect to redis://:pwone111@h1:6379 failed, then rediss://user:pwtwo222@h2:6380/0 "
        "and postgres://u:pwthree333@db/x worked"
    )
    out = redact_text(text)
    for secret in ("pwone111", "pwtwo222", "pwthree333"):
        assert secret not in out
    assert out == (
        "connect to redis://:***@h1:6379 failed, then rediss://user:***@h2:6380/0 "
        "and postgres://u:***@db/x worked"
    )


def test_redact_text_comma_separated_urls_keep_their_hosts() -> None:
    out = redact_text("redis://:aaaa1@h1:6379,redis://:bbbb2@h2:6379")
    assert out == "redis://:***@h1:6379,redis://:***@h2:6379"


def test_redact_text_password_with_at_sign_is_fully_masked() -> None:
    out = redact_text("Redis at redis://:p@ssw0rd@h.example.com:6379 is down")
    assert "ssw0rd" not in out
    assert out == "Redis at redis://:***@h.example.com:6379 is down"


def test_redact_text_compact_json_keeps_later_values() -> None:
    out = redact_text('{"a":"redis://:pwx1@h:6379","b":"me@example.com"}')
    assert "pwx1" not in out
    assert out == '{"a":"redis://:***@h:6379","b":"me@example.com"}'


def test_redact_text_secret_query_parameters_in_free_text() -> None:
    out = redact_text("GET https://api.example.com/x?token=tok123secret&page=2 -> 403")
    assert "tok123secret" not in out
    assert out == "GET https://api.example.com/x?token=***&page=2 -> 403"


def test_redact_text_secrets_list_masks_literal_values() -> None:
    text = "key=abcdef123456 other=abcd short=xy"
    out = redact_text(text, ["abcd", "abcdef123456", "xy", ""])
    # the longer secret is masked whole (not "***ef123456"); < 4 chars is not masked
    assert out == "key=*** other=*** short=xy"


def test_redact_text_without_secrets_is_unchanged() -> None:
    text = "nothing secret here: https://example.com/a?b=c"
    assert redact_text(text) == text


# ---- describe_config_var / secret_values ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DYNO", "web.1"),
        ("PORT", "5000"),
        ("WEB_CONCURRENCY", "2"),
        ("DJANGO_SETTINGS_MODULE", "proj.settings"),
        ("DJANGO_ALLOWED_HOSTS", "a.example.com,b.example.com"),
        ("CHANNELS_LAYER", "pubsub"),
        ("CHANNELS_REDIS_URLS", "REDIS_URL,HEROKU_REDIS_ORANGE_URL"),
    ],
)
def test_describe_public_vars_in_clear(name: str, value: str) -> None:
    assert describe_config_var(name, value) == f"{name}={value}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "django-insecure-abcdef"),
        ("DJANGO_SECRET_KEY", "x" * 50),
        ("AWS_SECRET_ACCESS_KEY", "AKIAxyz"),
        ("SOME_UNKNOWN_VAR", "whatever"),
    ],
)
def test_describe_secret_vars_masked(name: str, value: str) -> None:
    assert describe_config_var(name, value) == f"{name}={MASK}"


def test_describe_url_var_shows_redacted_url() -> None:
    out = describe_config_var("REDIS_URL", "rediss://:p4ssw0rdX@ec2-1-2-3-4.compute.com:6380")
    assert out == "REDIS_URL=rediss://:***@ec2-1-2-3-4.compute.com:6380"
    out = describe_config_var("CLOUDAMQP_URL", "amqps://user:p4ssw0rdY@host/vh?token=tokZZZ")
    assert "p4ssw0rdY" not in out
    assert "tokZZZ" not in out
    assert out.startswith("CLOUDAMQP_URL=amqps://user:***@host/vh")


def test_describe_public_var_holding_urls_is_still_redacted() -> None:
    # CHANNELS_REDIS_URLS is public (usually names) but may list URLs with passwords.
    out = describe_config_var(
        "CHANNELS_REDIS_URLS", "redis://:pwAAAA1@h1:6379,rediss://:pwBBBB2@h2:6380"
    )
    assert "pwAAAA1" not in out
    assert "pwBBBB2" not in out
    assert out == "CHANNELS_REDIS_URLS=redis://:***@h1:6379,rediss://:***@h2:6380"


def test_describe_var_holding_several_urls_masks_every_password() -> None:
    out = describe_config_var("MY_URLS", "redis://:pwAAAA1@h1:6379,redis://:pwBBBB2@h2:6379")
    assert "pwAAAA1" not in out
    assert "pwBBBB2" not in out


def test_secret_values_excludes_public_and_empty() -> None:
    env = {
        "DYNO": "web.1",
        "PORT": "5000",
        "REDIS_URL": "redis://:pw@h",
        "SECRET_KEY": "sk",
        "EMPTY": "",
    }
    assert secret_values(env) == ["redis://:pw@h", "sk"]
