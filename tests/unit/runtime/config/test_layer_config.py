"""Unit tests for ``buildpack.runtime.config.layer_config``: the CHANNEL_LAYERS chosen from
the environment (Redis core, pub/sub, RabbitMQ, in-memory) and their TLS verification. The
user's own setting: ``test_layer_config_user.py``; malformed values:
``test_layer_config_values.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from buildpack.runtime.config.layer_config import decide
from buildpack.runtime.layers import (
    MEMORY_BACKEND,
    PUBSUB_BACKEND,
    RABBITMQ_BACKEND,
    REDIS_BACKEND,
    STOCK_MEMORY_BACKEND,
    STOCK_REDIS_BACKEND,
)
from tests.support.layer_decisions import (
    DEFAULT_TUNABLES,
    NO_TLS_CHECK,
    ORANGE,
    PW,
    REMOTE,
    REMOTE_TLS,
    assert_no_secret,
    memory_config,
    raises_config_error,
    redis_config,
    user_layer,
)

# ---- REDIS_URL / CHANNELS_REDIS_URLS -> our core layer ------------------------------------------


@pytest.mark.parametrize("choice", ["", "auto", "core", "redis", "CORE"])
def test_redis_url_gives_our_core_layer_with_one_host(choice: str) -> None:
    decision = decide({"REDIS_URL": REMOTE, "CHANNELS_LAYER": choice}, None)
    assert decision.mode == "redis"
    assert decision.config == redis_config({"address": REMOTE})
    assert decision.notes == [
        "channels_redis core, exactly-once (1 host: redis://:***@redis.example.com:6379)"
    ]
    assert decision.warnings == []
    assert_no_secret(decision)


def test_redis_url_is_stripped() -> None:
    decision = decide({"REDIS_URL": f"  {REMOTE}\n"}, None)
    assert decision.config == redis_config({"address": REMOTE})


@pytest.mark.parametrize(
    "current",
    [
        None,
        {},
        "not a dict",
        {"default": "not a dict"},
        {"default": {}},
        user_layer(STOCK_MEMORY_BACKEND),
        user_layer(MEMORY_BACKEND),
    ],
)
def test_redis_url_replaces_missing_or_memory_user_settings(current: Any) -> None:
    decision = decide({"REDIS_URL": REMOTE}, current)
    assert decision.config == redis_config({"address": REMOTE})


def test_channels_redis_urls_list_of_urls_in_listed_order() -> None:
    urls = [f"redis://:{PW}@shard{i}.example.com:6379" for i in (3, 1, 2)]
    environ = {"CHANNELS_REDIS_URLS": ",".join(urls), "REDIS_URL": REMOTE}
    decision = decide(environ, None)
    assert decision.config == redis_config(*({"address": u} for u in urls))
    assert decision.notes[0].startswith("channels_redis core, exactly-once (3 hosts: ")
    assert "shard3.example.com:6379, redis://:***@shard1" in decision.notes[0]
    assert_no_secret(decision)


@pytest.mark.parametrize(
    ("listing", "expected"),
    [
        ("REDIS_URL,HEROKU_REDIS_ORANGE_URL", [REMOTE, ORANGE]),
        ("HEROKU_REDIS_ORANGE_URL,REDIS_URL", [ORANGE, REMOTE]),
        (" HEROKU_REDIS_ORANGE_URL  REDIS_URL ", [ORANGE, REMOTE]),
        ("HEROKU_REDIS_ORANGE_URL,\n REDIS_URL,", [ORANGE, REMOTE]),
        ("HEROKU_REDIS_ORANGE_URL", [ORANGE]),  # REDIS_URL not listed: not used
        (f"{REMOTE_TLS},REDIS_URL", [REMOTE_TLS, REMOTE]),
    ],
)
def test_channels_redis_urls_names_in_listed_order(listing: str, expected: list[str]) -> None:
    environ = {
        "CHANNELS_REDIS_URLS": listing,
        "REDIS_URL": REMOTE,
        "HEROKU_REDIS_ORANGE_URL": ORANGE,
    }
    decision = decide(environ, None)
    hosts = decision.config["default"]["CONFIG"]["hosts"] if decision.config else []
    assert [h["address"] for h in hosts] == expected
    assert decision.mode == "redis"


def test_shard_order_is_stable_across_calls_and_environment_order() -> None:
    names = ["HEROKU_REDIS_ORANGE_URL", "REDIS_URL", "HEROKU_REDIS_BLUE_URL"]
    values = {
        "REDIS_URL": REMOTE,
        "HEROKU_REDIS_ORANGE_URL": ORANGE,
        "HEROKU_REDIS_BLUE_URL": f"redis://:{PW}@blue.example.com:6379",
    }
    forward = {"CHANNELS_REDIS_URLS": ",".join(names), **values}
    backward = dict(reversed(list(forward.items())))
    results = [decide(env, None).config for env in (forward, forward, backward, backward)]
    assert all(r == results[0] for r in results)
    assert results[0] is not None
    addresses = [h["address"] for h in results[0]["default"]["CONFIG"]["hosts"]]
    assert addresses == [values[n] for n in names]


def test_empty_channels_redis_urls_falls_back_to_redis_url() -> None:
    decision = decide({"CHANNELS_REDIS_URLS": "  ", "REDIS_URL": REMOTE}, None)
    assert decision.config == redis_config({"address": REMOTE})


# ---- pub/sub -------------------------------------------------------------------------------------


def test_pubsub_with_redis_url() -> None:
    decision = decide({"REDIS_URL": REMOTE, "CHANNELS_LAYER": "pubsub"}, None)
    assert decision.mode == "pubsub"
    assert decision.config == {
        "default": {
            "BACKEND": PUBSUB_BACKEND,
            "CONFIG": {"hosts": [{"address": REMOTE}], **DEFAULT_TUNABLES},
        }
    }
    assert decision.notes == [
        "channels_redis pub/sub for groups, exactly-once queue for background channels "
        "(1 host: redis://:***@redis.example.com:6379)"
    ]


def test_pubsub_with_several_shards_and_tls_on_a_dyno() -> None:
    environ = {
        "CHANNELS_LAYER": "pubsub",
        "CHANNELS_REDIS_URLS": "HEROKU_REDIS_ORANGE_URL,REDIS_URL",
        "REDIS_URL": REMOTE,
        "HEROKU_REDIS_ORANGE_URL": ORANGE,
        "DYNO": "web.1",
    }
    decision = decide(environ, user_layer(STOCK_REDIS_BACKEND, [REMOTE]))
    assert decision.config == {
        "default": {
            "BACKEND": PUBSUB_BACKEND,
            "CONFIG": {
                "hosts": [{"address": ORANGE, **NO_TLS_CHECK}, {"address": REMOTE}],
                **DEFAULT_TUNABLES,
            },
        }
    }
    assert decision.notes[0].endswith("TLS verification off)")
    assert_no_secret(decision)


@pytest.mark.parametrize("choice", ["core", "redis", "pubsub"])
def test_redis_choices_without_redis_are_errors(choice: str) -> None:
    text = raises_config_error({"CHANNELS_LAYER": choice, "CLOUDAMQP_URL": "amqp://h"})
    assert f"CHANNELS_LAYER={choice}" in text
    assert "REDIS_URL" in text
    assert "heroku addons:create heroku-redis" in text


# ---- RabbitMQ ----------------------------------------------------------------------------------


@pytest.mark.parametrize("var", ["CLOUDAMQP_URL", "RABBITMQ_URL"])
def test_amqp_url_with_channels_rabbitmq_installed(var: str) -> None:
    url = f"amqps://user:{PW}@rabbit.example.com/vhost"
    decision = decide({var: f" {url} "}, None, rabbitmq_available=True)
    assert decision.mode == "rabbitmq"
    assert decision.config == {"default": {"BACKEND": RABBITMQ_BACKEND, "CONFIG": {"host": url}}}
    assert decision.notes == [
        "channels_rabbitmq (amqps://user:***@rabbit.example.com/vhost; "
        "no background-worker channels)"
    ]
    assert decision.warnings == []
    assert_no_secret(decision)


def test_cloudamqp_url_wins_over_rabbitmq_url() -> None:
    environ = {"CLOUDAMQP_URL": "amqp://cloud", "RABBITMQ_URL": "amqp://own"}
    decision = decide(environ, None, rabbitmq_available=True)
    assert decision.config is not None
    assert decision.config["default"]["CONFIG"] == {"host": "amqp://cloud"}


@pytest.mark.parametrize("var", ["CLOUDAMQP_URL", "RABBITMQ_URL"])
def test_amqp_url_without_channels_rabbitmq_warns_and_uses_memory(var: str) -> None:
    decision = decide({var: f"amqps://u:{PW}@h/v"}, None, rabbitmq_available=False)
    assert decision.mode == "memory"
    assert decision.config == memory_config()
    assert decision.warnings == [f"{var} is set but channels_rabbitmq is not installed; not used."]
    assert_no_secret(decision)


def test_redis_wins_over_amqp_in_auto_mode() -> None:
    environ = {"REDIS_URL": REMOTE, "CLOUDAMQP_URL": "amqp://h"}
    assert decide(environ, None, rabbitmq_available=True).mode == "redis"


def test_channels_layer_rabbitmq_wins_over_redis() -> None:
    environ = {"REDIS_URL": REMOTE, "CLOUDAMQP_URL": "amqp://h", "CHANNELS_LAYER": "rabbitmq"}
    decision = decide(environ, None, rabbitmq_available=True)
    assert decision.mode == "rabbitmq"


def test_channels_layer_rabbitmq_errors() -> None:
    text = raises_config_error(
        {"CHANNELS_LAYER": "rabbitmq", "CLOUDAMQP_URL": "amqp://h"}, rabbitmq_available=False
    )
    assert "channels_rabbitmq is not installed" in text
    assert "channels-rabbitmq" in text
    text = raises_config_error({"CHANNELS_LAYER": "rabbitmq"}, rabbitmq_available=True)
    assert "CLOUDAMQP_URL or RABBITMQ_URL" in text


# ---- nothing: our in-memory layer ------------------------------------------------------------


@pytest.mark.parametrize("current", [None, {}, {"default": {}}, user_layer(MEMORY_BACKEND)])
def test_nothing_configured_gives_our_memory_layer(current: Any) -> None:
    decision = decide({}, current)
    assert decision.mode == "memory"
    assert decision.config == memory_config()
    assert decision.notes == ["in-memory (no Redis: single-process mode)"]
    assert decision.warnings == []


def test_stock_in_memory_layer_is_replaced_by_ours_with_a_note() -> None:
    current = user_layer(STOCK_MEMORY_BACKEND)
    decision = decide({}, current)
    assert decision.mode == "memory"
    assert decision.config == memory_config()
    assert decision.notes == [
        "in-memory (no Redis: single-process mode; replaces InMemoryChannelLayer, "
        "which breaks across threads)"
    ]
    assert current == user_layer(STOCK_MEMORY_BACKEND)


@pytest.mark.parametrize(
    "current", [None, user_layer(REDIS_BACKEND, [REMOTE]), user_layer(STOCK_MEMORY_BACKEND)]
)
def test_channels_layer_memory_forces_memory(current: Any) -> None:
    decision = decide({"CHANNELS_LAYER": "memory", "REDIS_URL": REMOTE}, current)
    assert decision.mode == "memory"
    assert decision.config is not None
    assert decision.config["default"]["BACKEND"] == MEMORY_BACKEND


@pytest.mark.parametrize("dyno", ["web.2", "web.10", "worker.1", "worker", "clock.1"])
def test_memory_layer_on_one_of_several_dynos_warns(dyno: str) -> None:
    decision = decide({"DYNO": dyno}, None)
    assert decision.mode == "memory"
    assert len(decision.warnings) == 1
    warning = decision.warnings[0]
    assert f"this dyno ({dyno})" in warning
    assert "will NOT reach the other dynos" in warning
    assert "heroku addons:create heroku-redis:mini" in warning


@pytest.mark.parametrize("dyno", ["web.1", "web", "run.1", "run.4521", "release.1", ""])
def test_memory_layer_on_a_single_dyno_does_not_warn(dyno: str) -> None:
    environ = {"DYNO": dyno} if dyno else {}
    assert decide(environ, None).warnings == []


def test_memory_warning_also_when_stock_memory_is_replaced_on_worker() -> None:
    decision = decide({"DYNO": "worker.1"}, user_layer(STOCK_MEMORY_BACKEND))
    assert "replaces InMemoryChannelLayer" in decision.notes[0]
    assert len(decision.warnings) == 1


# ---- TLS verification of generated configs ---------------------------------------------------


def test_rediss_on_a_dyno_turns_verification_off() -> None:
    decision = decide({"REDIS_URL": REMOTE_TLS, "DYNO": "web.1"}, None)
    assert decision.config == redis_config({"address": REMOTE_TLS, **NO_TLS_CHECK})
    assert decision.notes[0].endswith(", TLS verification off)")


def test_rediss_off_a_dyno_keeps_verification_on() -> None:
    decision = decide({"REDIS_URL": REMOTE_TLS}, None)
    assert decision.config == redis_config({"address": REMOTE_TLS})
    assert decision.notes[0].endswith(", TLS verified)")


@pytest.mark.parametrize(
    ("value", "dyno", "verified"),
    [
        ("false", "", False),
        ("FALSE", "", False),
        ("no", "", False),
        ("0", "", False),
        ("off", "", False),
        ("true", "web.1", True),
        (" True ", "web.1", True),
        ("yes", "web.1", True),
        ("1", "web.1", True),
        ("on", "web.1", True),
        ("auto", "web.1", False),
        ("auto", "", True),
        ("", "web.1", False),
        ("", "", True),
    ],
)
def test_tls_verify_override(value: str, dyno: str, verified: bool) -> None:
    environ = {"REDIS_URL": REMOTE_TLS, "CHANNELS_REDIS_TLS_VERIFY": value}
    if dyno:
        environ["DYNO"] = dyno
    expected = {"address": REMOTE_TLS} if verified else {"address": REMOTE_TLS, **NO_TLS_CHECK}
    assert decide(environ, None).config == redis_config(expected)


def test_tls_options_never_added_to_plain_redis() -> None:
    environ = {"REDIS_URL": REMOTE, "CHANNELS_REDIS_TLS_VERIFY": "false", "DYNO": "web.1"}
    decision = decide(environ, None)
    assert decision.config == redis_config({"address": REMOTE})
    assert "TLS" not in decision.notes[0]


@pytest.mark.parametrize("value", ["maybe", "2", "verify", "disabled"])
def test_tls_verify_invalid_value_is_an_error(value: str) -> None:
    text = raises_config_error({"REDIS_URL": REMOTE_TLS, "CHANNELS_REDIS_TLS_VERIFY": value})
    assert text.startswith("CHANNELS_REDIS_TLS_VERIFY=")
    assert "true, false or auto" in text
