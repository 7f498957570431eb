"""Unit tests for ``buildpack.runtime.config.layer_config`` on malformed values: every bad
``REDIS_URL``, ``CHANNELS_REDIS_URLS``, ``CHANNELS_LAYER`` and tunable is one ConfigError line
that says which variable and how to fix it, never a password.
"""

from __future__ import annotations

import pytest

from buildpack.messages import ConfigError
from buildpack.runtime.config.layer_config import decide, redis_urls
from buildpack.runtime.layers import (
    PUBSUB_BACKEND,
    REDIS_BACKEND,
    STOCK_PUBSUB_BACKEND,
    STOCK_REDIS_BACKEND,
)
from tests.support.layer_decisions import (
    ORANGE,
    PW,
    REMOTE,
    assert_no_secret,
    memory_config,
    raises_config_error,
    redis_config,
    user_layer,
)

# ---- malformed REDIS_URL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        (f"redis//:{PW}@host:6379", "has scheme 'none'"),
        (f"http://:{PW}@x", "has scheme 'http'"),
        (f"postgres://u:{PW}@x/db", "has scheme 'postgres'"),
        ("redis//host", "has scheme 'none'"),
        ("http://x", "has scheme 'http'"),
        (f"redis://:{PW} @host:6379", "contains whitespace"),
        (f"redis://:{PW}@host:6379 /0", "contains whitespace"),
        (f"redis://:{PW}@", "has no host"),
        (f"rediss://:{PW}@:6380", "has no host"),
        ("redis://", "has no host"),
        (f"redis://:{PW}@h:notaport", "is not a valid URL"),
        ("redis://h:notaport", "is not a valid URL"),
        (f"redis://:{PW}@h:99999", "is not a valid URL"),
        (f"redis://:{PW}@h:0", "has port 0"),
        (f"redis://:{PW}@[::1", "is not a valid URL"),
        (f":{PW}@host:6379", "has scheme"),
    ],
)
def test_malformed_redis_url_is_a_config_error(value: str, expect: str) -> None:
    text = raises_config_error({"REDIS_URL": value})
    assert text.startswith("REDIS_URL ")
    assert expect in text
    assert "Fix" in text or "valid URL" in text or "port 0" in text


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_empty_redis_url_is_a_warning_not_an_error(value: str) -> None:
    decision = decide({"REDIS_URL": value}, None)
    assert decision.mode == "memory"
    assert decision.config == memory_config()
    assert decision.warnings == ["REDIS_URL is set but empty, so it is ignored."]


def test_empty_redis_url_warning_comes_before_the_dyno_warning() -> None:
    decision = decide({"REDIS_URL": "", "DYNO": "worker.1"}, None)
    assert decision.warnings[0] == "REDIS_URL is set but empty, so it is ignored."
    assert "worker.1" in decision.warnings[1]


def test_empty_redis_url_with_user_real_backend_is_kept() -> None:
    decision = decide({"REDIS_URL": ""}, user_layer(REDIS_BACKEND, [REMOTE]))
    assert decision.config is None
    assert decision.warnings == ["REDIS_URL is set but empty, so it is ignored."]


@pytest.mark.parametrize(
    "value",
    [
        "unix:///var/run/redis.sock",
        "unix:///var/run/redis.sock?db=2",
        "redis://h",
        "rediss://h:6380/2",
        "redis://user:pw@[::1]:6379",
    ],
)
def test_valid_redis_url_forms_are_accepted(value: str) -> None:
    decision = decide({"REDIS_URL": value}, None)
    assert decision.config == redis_config({"address": value})


def test_malformed_redis_url_is_an_error_even_with_a_user_backend() -> None:
    text = raises_config_error(
        {"REDIS_URL": f"http://:{PW}@x"}, user_layer(REDIS_BACKEND, [REMOTE])
    )
    assert text.startswith("REDIS_URL ")


# ---- malformed CHANNELS_REDIS_URLS ------------------------------------------------------------


def test_channels_redis_urls_unknown_name() -> None:
    text = raises_config_error(
        {"CHANNELS_REDIS_URLS": "REDIS_URL,HEROKU_REDIS_NOPE_URL", "REDIS_URL": REMOTE}
    )
    assert "CHANNELS_REDIS_URLS names HEROKU_REDIS_NOPE_URL, which is not set or empty" in text
    assert "heroku config:get HEROKU_REDIS_NOPE_URL" in text


@pytest.mark.parametrize("value", ["", "  "])
def test_channels_redis_urls_name_with_empty_value(value: str) -> None:
    text = raises_config_error(
        {"CHANNELS_REDIS_URLS": "HEROKU_REDIS_ORANGE_URL", "HEROKU_REDIS_ORANGE_URL": value}
    )
    assert "CHANNELS_REDIS_URLS names HEROKU_REDIS_ORANGE_URL" in text


@pytest.mark.parametrize(
    "entry",
    [
        f"redis//:{PW}@host:6379",
        f":{PW}@host:6379",
        "host:6379",
        "-not-a-name",
        "redis.example.com",
    ],
)
def test_channels_redis_urls_garbage_entry(entry: str) -> None:
    text = raises_config_error({"CHANNELS_REDIS_URLS": f"REDIS_URL,{entry}", "REDIS_URL": REMOTE})
    assert text.startswith("CHANNELS_REDIS_URLS entry ")
    assert "neither a URL nor a config var name" in text


def test_channels_redis_urls_bad_url_entry_names_the_list() -> None:
    text = raises_config_error({"CHANNELS_REDIS_URLS": f"http://:{PW}@x"})
    assert text.startswith("CHANNELS_REDIS_URLS entry has scheme 'http'")


def test_channels_redis_urls_named_var_with_bad_url_names_that_var() -> None:
    text = raises_config_error(
        {"CHANNELS_REDIS_URLS": "HEROKU_REDIS_ORANGE_URL", "HEROKU_REDIS_ORANGE_URL": "http://x"}
    )
    assert text.startswith("HEROKU_REDIS_ORANGE_URL has scheme 'http'")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (REMOTE, REMOTE),
        (f"redis://:{PW}@redis.example.com:6379", f"rediss://:{PW}@redis.example.com:6379"),
        ("redis://redis.example.com", f"redis://:{PW}@redis.example.com:6379/0"),
        ("redis://Redis.Example.com:6379/0", "redis://redis.example.com:6379"),
        ("redis://h:6379/3", "redis://other-user@h:6379/3"),
        ("redis://h:6379?db=3", "redis://h:6379/3"),
        ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),
    ],
)
def test_duplicated_shards_are_listed_once_with_a_warning(first: str, second: str) -> None:
    environ = {
        "CHANNELS_REDIS_URLS": "REDIS_URL,HEROKU_REDIS_ORANGE_URL,HEROKU_REDIS_BLUE_URL",
        "REDIS_URL": first,
        "HEROKU_REDIS_ORANGE_URL": "redis://orange.example.com:6379",
        "HEROKU_REDIS_BLUE_URL": second,
    }
    decision = decide(environ, None)
    assert decision.config is not None
    addresses = [h["address"] for h in decision.config["default"]["CONFIG"]["hosts"]]
    assert addresses == [first, "redis://orange.example.com:6379"]
    assert len(decision.warnings) == 1
    warning = decision.warnings[0]
    assert warning.startswith("HEROKU_REDIS_BLUE_URL is the same Redis as REDIS_URL (")
    assert "listed once" in warning
    assert_no_secret(decision)


def test_duplicated_urls_inside_the_list_are_deduped() -> None:
    urls, warnings = redis_urls({"CHANNELS_REDIS_URLS": f"{REMOTE}, {REMOTE} ,{ORANGE}"})
    assert urls == [REMOTE, ORANGE]
    assert len(warnings) == 1
    assert warnings[0].startswith("CHANNELS_REDIS_URLS entry is the same Redis as ")
    assert PW not in warnings[0]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("redis://h:6379/0", "redis://h:6379/1"),
        ("redis://h:6379", "redis://h:6380"),
        ("redis://h1:6379", "redis://h2:6379"),
        ("redis://h:6379?db=1", "redis://h:6379?db=2"),
        ("unix:///tmp/r.sock?db=1", "unix:///tmp/r.sock?db=2"),
        ("unix:///tmp/a.sock", "unix:///tmp/b.sock"),
    ],
)
def test_distinct_shards_are_all_kept(first: str, second: str) -> None:
    urls, warnings = redis_urls({"CHANNELS_REDIS_URLS": f"{first},{second}"})
    assert (urls, warnings) == ([first, second], [])


# ---- CHANNELS_LAYER and tunables ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["bogus", "redis-pubsub", "in-memory", "KEEPIT"])
def test_unknown_channels_layer_is_an_error(value: str) -> None:
    text = raises_config_error({"CHANNELS_LAYER": value, "REDIS_URL": REMOTE})
    assert text.startswith(f"CHANNELS_LAYER={value.lower()!r} is not one of ")
    assert "auto, core, redis, pubsub, memory, rabbitmq, keep" in text


TUNABLES = ["CHANNELS_CAPACITY", "CHANNELS_EXPIRY", "CHANNELS_GROUP_EXPIRY"]


@pytest.mark.parametrize("var", TUNABLES)
@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "10k", "0x10"])
@pytest.mark.parametrize("with_redis", [True, False])
def test_bad_tunable_is_an_error(var: str, value: str, with_redis: bool) -> None:
    environ = {var: value, **({"REDIS_URL": REMOTE} if with_redis else {})}
    text = raises_config_error(environ)
    assert text.startswith(f"{var}={value!r} must be a positive whole number")
    assert f"e.g. {var}=" in text


@pytest.mark.parametrize("var", TUNABLES)
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_tunable_means_default(var: str, value: str) -> None:
    assert decide({var: value, "REDIS_URL": REMOTE}, None).config == redis_config(
        {"address": REMOTE}
    )
    assert decide({var: value}, None).config == memory_config()


def test_valid_tunables_are_applied_to_redis_and_memory_configs() -> None:
    environ = {"CHANNELS_CAPACITY": "250", "CHANNELS_EXPIRY": " 30 ", "CHANNELS_GROUP_EXPIRY": "7"}
    tunables = {"capacity": 250, "expiry": 30, "group_expiry": 7}
    assert decide({**environ, "REDIS_URL": REMOTE}, None).config == redis_config(
        {"address": REMOTE}, **tunables
    )
    assert decide(environ, None).config == memory_config(**tunables)


def test_swap_without_config_adds_no_config_keys() -> None:
    decision = decide({}, {"default": {"BACKEND": STOCK_REDIS_BACKEND}})
    assert decision.config == {"default": {"BACKEND": REDIS_BACKEND}}


def test_swap_keeps_the_user_hosts_container_as_is() -> None:
    hosts = (REMOTE, ("h", 6379))
    decision = decide({}, {"default": {"BACKEND": STOCK_REDIS_BACKEND, "CONFIG": {"hosts": hosts}}})
    assert decision.config == {
        "default": {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": (REMOTE, ("h", 6379))}}
    }


def test_user_layer_with_config_none_on_a_dyno_does_not_crash() -> None:
    decision = decide(
        {"DYNO": "web.1", "REDIS_URL": REMOTE},
        {"default": {"BACKEND": STOCK_REDIS_BACKEND, "CONFIG": None}},
    )
    assert decision.config == user_layer(REDIS_BACKEND, [{"address": REMOTE}])


def test_user_in_memory_options_are_kept_when_replaced() -> None:
    current = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "expiry": 10, "channel_capacity": {"jobs": 5}},
        }
    }
    decision = decide({}, current)
    options = decision.config["default"]["CONFIG"]
    assert options == {
        "capacity": 1000,
        "expiry": 10,
        "group_expiry": 86400,
        "channel_capacity": {"jobs": 5},
    }
    # an explicit variable still wins over the user's value
    options = decide({"CHANNELS_CAPACITY": "7"}, current).config["default"]["CONFIG"]
    assert options["capacity"] == 7


def test_unix_url_without_a_socket_path_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no socket path"):
        decide({"REDIS_URL": "unix://"}, None)


def test_max_connections_per_process_is_tunable() -> None:
    environ = {"REDIS_URL": REMOTE, "CHANNELS_REDIS_MAX_CONNECTIONS": "8"}
    hosts = decide(environ, None).config["default"]["CONFIG"]["hosts"]
    assert hosts == [{"address": REMOTE, "max_connections": 8}]
    assert (
        "max_connections"
        not in decide({"REDIS_URL": REMOTE}, None).config["default"]["CONFIG"]["hosts"][0]
    )
    with pytest.raises(ConfigError, match="CHANNELS_REDIS_MAX_CONNECTIONS"):
        decide({**environ, "CHANNELS_REDIS_MAX_CONNECTIONS": "lots"}, None)


def test_user_stock_pubsub_layer_gets_exactly_once_background_channels() -> None:
    decision = decide({}, user_layer(STOCK_PUBSUB_BACKEND, [REMOTE]))
    assert decision.mode == "pubsub"
    assert decision.config["default"]["BACKEND"] == PUBSUB_BACKEND
    assert decision.config["default"]["CONFIG"]["hosts"] == [REMOTE]
    assert "pub/sub -> exactly-once background channels" in decision.notes[0]
