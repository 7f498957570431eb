"""Unit tests for buildpack.runtime.config.layer_config: every row of the CHANNEL_LAYERS
selection table, TLS verification, and every malformed environment value (ConfigError, never
a password)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from buildpack.messages import ConfigError
from buildpack.runtime.config.layer_config import LayerDecision, decide, redis_urls
from buildpack.runtime.layers import (
    MEMORY_BACKEND,
    PUBSUB_BACKEND,
    RABBITMQ_BACKEND,
    REDIS_BACKEND,
    STOCK_MEMORY_BACKEND,
    STOCK_PUBSUB_BACKEND,
    STOCK_REDIS_BACKEND,
)

DEFAULT_TUNABLES = {"capacity": 100, "expiry": 60, "group_expiry": 86400}
PW = "s3cretPW42"  # every URL below carries it; no message may show it
REMOTE = f"redis://:{PW}@redis.example.com:6379"
REMOTE_TLS = f"rediss://:{PW}@ec2-1-2-3-4.compute-1.amazonaws.com:6380"
ORANGE = f"rediss://:{PW}@orange.example.com:7000"
DEFAULTS = {"capacity": 100, "expiry": 60, "group_expiry": 86400}
NO_TLS_CHECK = {"ssl_cert_reqs": None, "ssl_check_hostname": False}


def messages(decision: LayerDecision) -> list[str]:
    return [*decision.notes, *decision.warnings]


def assert_no_secret(decision: LayerDecision, secret: str = PW) -> None:
    for text in messages(decision):
        assert secret not in text, text
    assert decision.notes, "every decision explains itself"


def raises_config_error(environ: dict[str, str], current: Any = None, **kw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        decide(environ, current, **kw)
    text = str(info.value)
    assert PW not in text
    assert "\n" not in text
    return text


def redis_config(*hosts: dict[str, Any], **tunables: int) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": REDIS_BACKEND,
            "CONFIG": {"hosts": list(hosts), **{**DEFAULTS, **tunables}},
        }
    }


def memory_config(**tunables: int) -> dict[str, Any]:
    return {"default": {"BACKEND": MEMORY_BACKEND, "CONFIG": {**DEFAULTS, **tunables}}}


def user_layer(backend: str, hosts: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    layer: dict[str, Any] = {"BACKEND": backend, **extra}
    if hosts is not None:
        layer["CONFIG"] = {"hosts": hosts}
    return {"default": layer}


# ---- CHANNELS_LAYER=keep ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["keep", "KEEP", "  Keep  "])
def test_keep_leaves_the_user_setting_untouched(value: str) -> None:
    current = user_layer(STOCK_REDIS_BACKEND, ["redis://localhost:6379", REMOTE_TLS])
    before = copy.deepcopy(current)
    decision = decide({"CHANNELS_LAYER": value, "REDIS_URL": REMOTE, "DYNO": "web.2"}, current)
    assert decision.mode == "user"
    assert decision.config is None
    assert not decision.changed
    assert decision.notes == ["your CHANNEL_LAYERS, untouched (CHANNELS_LAYER=keep)"]
    assert decision.warnings == []
    assert current == before


def test_keep_without_any_user_setting_still_sets_nothing() -> None:
    decision = decide({"CHANNELS_LAYER": "keep", "DYNO": "worker.1"}, None)
    assert (decision.mode, decision.config, decision.warnings) == ("user", None, [])


# ---- user setting names a real backend --------------------------------------------------------


@pytest.mark.parametrize(
    "backend",
    [REDIS_BACKEND, PUBSUB_BACKEND, RABBITMQ_BACKEND, "myproject.layers.CustomLayer"],
)
def test_user_real_backend_is_kept_even_with_redis_url(backend: str) -> None:
    current = user_layer(backend, [REMOTE])
    before = copy.deepcopy(current)
    decision = decide({"REDIS_URL": ORANGE, "DYNO": "web.1"}, current)
    assert decision.config is None
    assert decision.notes == ["your CHANNEL_LAYERS, kept"]
    assert decision.mode == ("pubsub" if backend == PUBSUB_BACKEND else "user")
    assert current == before


def test_stock_core_backend_is_swapped_for_ours_with_a_note() -> None:
    current = {
        "default": {
            "BACKEND": STOCK_REDIS_BACKEND,
            "CONFIG": {"hosts": [REMOTE], "capacity": 1500, "prefix": "app"},
        },
        "other": {"BACKEND": STOCK_REDIS_BACKEND, "CONFIG": {"hosts": [REMOTE]}},
        "mem": {"BACKEND": STOCK_MEMORY_BACKEND},
    }
    before = copy.deepcopy(current)
    decision = decide({"REDIS_URL": ORANGE, "DYNO": "web.1"}, current)
    assert decision.mode == "user"
    assert decision.config == {
        "default": {
            "BACKEND": REDIS_BACKEND,
            "CONFIG": {"hosts": [REMOTE], "capacity": 1500, "prefix": "app"},
        },
        "other": {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": [REMOTE]}},
        "mem": {"BACKEND": STOCK_MEMORY_BACKEND},
    }
    assert len(decision.notes) == 1
    note = decision.notes[0]
    assert note.startswith("your CHANNEL_LAYERS, kept with fixes: ")
    assert "default: channels_redis core -> exactly-once" in note
    assert "other: channels_redis core -> exactly-once" in note
    assert current == before, "the user's dict is never mutated"
    assert_no_secret(decision)


def test_stock_core_backend_without_dyno_and_without_redis_url_is_still_swapped() -> None:
    decision = decide({}, user_layer(STOCK_REDIS_BACKEND, [("redis.internal", 6379)]))
    assert decision.config == user_layer(REDIS_BACKEND, [("redis.internal", 6379)])


# ---- TLS on the user's rediss:// hosts --------------------------------------------------------


def test_user_rediss_string_host_on_a_dyno_gets_tls_options() -> None:
    decision = decide({"DYNO": "web.1"}, user_layer(REDIS_BACKEND, [REMOTE_TLS]))
    assert decision.config == user_layer(REDIS_BACKEND, [{"address": REMOTE_TLS, **NO_TLS_CHECK}])
    assert "rediss:// host gets ssl_cert_reqs=None" in decision.notes[0]
    assert_no_secret(decision)


def test_user_rediss_dict_host_keeps_its_keys_and_gets_tls_options() -> None:
    host = {"address": REMOTE_TLS, "retry_on_timeout": True}
    decision = decide({"DYNO": "web.1"}, user_layer(PUBSUB_BACKEND, [host]))
    assert decision.mode == "pubsub"
    assert decision.config == user_layer(
        PUBSUB_BACKEND, [{"address": REMOTE_TLS, "retry_on_timeout": True, **NO_TLS_CHECK}]
    )
    assert host == {"address": REMOTE_TLS, "retry_on_timeout": True}


@pytest.mark.parametrize(
    "host",
    [
        {"address": REMOTE_TLS, "ssl_cert_reqs": "required"},  # the user decided: untouched
        {"address": REMOTE_TLS, "ssl_cert_reqs": None},
        ("ec2-1-2-3-4.compute-1.amazonaws.com", 6380),  # tuple form: not a rediss:// URL
        REMOTE,  # plain redis://
        {"address": REMOTE},
    ],
)
def test_user_hosts_that_need_no_tls_fix_are_untouched(host: Any) -> None:
    decision = decide({"DYNO": "web.1"}, user_layer(REDIS_BACKEND, [host]))
    assert decision.config is None
    assert decision.notes == ["your CHANNEL_LAYERS, kept"]


def test_user_mixed_hosts_only_the_rediss_one_is_fixed() -> None:
    hosts = [REMOTE, REMOTE_TLS, ("h", 6379), {"address": ORANGE, "ssl_cert_reqs": "optional"}]
    decision = decide({"DYNO": "worker.3"}, user_layer(REDIS_BACKEND, hosts))
    assert decision.config == user_layer(
        REDIS_BACKEND,
        [
            REMOTE,
            {"address": REMOTE_TLS, **NO_TLS_CHECK},
            ("h", 6379),
            {"address": ORANGE, "ssl_cert_reqs": "optional"},
        ],
    )
    assert decision.warnings == []


@pytest.mark.parametrize(
    ("environ", "fixed"),
    [
        ({}, False),  # local development: verify
        ({"DYNO": "web.1"}, True),
        ({"DYNO": "web.1", "CHANNELS_REDIS_TLS_VERIFY": "true"}, False),
        ({"CHANNELS_REDIS_TLS_VERIFY": "false"}, True),
    ],
)
def test_user_rediss_fix_follows_tls_verification(environ: dict[str, str], fixed: bool) -> None:
    decision = decide(environ, user_layer(REDIS_BACKEND, [REMOTE_TLS]))
    assert decision.changed is fixed


def test_stock_core_with_rediss_gets_both_fixes() -> None:
    decision = decide({"DYNO": "web.1"}, user_layer(STOCK_REDIS_BACKEND, [REMOTE_TLS]))
    assert decision.config == user_layer(REDIS_BACKEND, [{"address": REMOTE_TLS, **NO_TLS_CHECK}])
    assert "core -> exactly-once" in decision.notes[0]
    assert "ssl_cert_reqs=None" in decision.notes[0]


# ---- the user's localhost Redis on a dyno -------------------------------------------------------


@pytest.mark.parametrize(
    "local",
    [
        "redis://localhost:6379",
        "redis://127.0.0.1:6379/0",
        ("localhost", 6379),
        ["127.0.0.1", 6379],
        {"address": "redis://localhost:6379"},
        {"host": "localhost", "port": 6379},
    ],
)
def test_user_localhost_redis_on_a_dyno_is_replaced_by_redis_url(local: Any) -> None:
    current = user_layer(STOCK_REDIS_BACKEND, [local], PREFIX="x")
    decision = decide({"DYNO": "web.1", "REDIS_URL": REMOTE_TLS}, current)
    assert decision.config == {
        "default": {
            "BACKEND": REDIS_BACKEND,
            "PREFIX": "x",
            "CONFIG": {"hosts": [{"address": REMOTE_TLS, **NO_TLS_CHECK}]},
        }
    }
    note = decision.notes[0]
    assert "default: localhost Redis -> 1 host: rediss://:***@ec2-1-2-3-4" in note
    assert note.endswith("TLS verification off")
    assert_no_secret(decision)


def test_user_implicit_localhost_redis_on_a_dyno_is_replaced_by_redis_url() -> None:
    # no CONFIG/hosts: channels_redis connects to localhost:6379, which is not there on a dyno
    decision = decide({"DYNO": "web.1", "REDIS_URL": REMOTE}, user_layer(REDIS_BACKEND))
    assert decision.config == user_layer(REDIS_BACKEND, [{"address": REMOTE}])
    assert "localhost Redis -> 1 host" in decision.notes[0]


def test_user_localhost_redis_is_kept_off_a_dyno() -> None:
    decision = decide({"REDIS_URL": REMOTE}, user_layer(REDIS_BACKEND, ["redis://localhost:6379"]))
    assert decision.config is None
    assert decision.notes == ["your CHANNEL_LAYERS, kept"]


def test_user_implicit_localhost_redis_is_kept_without_hosts_key_off_a_dyno() -> None:
    current = user_layer(REDIS_BACKEND)
    decision = decide({"REDIS_URL": REMOTE}, current)
    assert decision.config is None


@pytest.mark.parametrize(
    ("hosts", "redis_url"),
    [
        (["redis://localhost:6379"], "redis://localhost:6379"),
        (["redis://localhost"], "redis://localhost:6379/0"),
        (["redis://:pw@LOCALHOST:6379"], "redis://localhost:6379"),
        ([{"address": "redis://127.0.0.1:6379"}], "redis://127.0.0.1:6379"),
    ],
)
def test_user_localhost_redis_same_as_redis_url_is_kept_unchanged(
    hosts: list[Any], redis_url: str
) -> None:
    current = user_layer(REDIS_BACKEND, hosts)
    decision = decide({"DYNO": "web.1", "REDIS_URL": redis_url}, current)
    assert decision.config is None
    assert decision.notes == ["your CHANNEL_LAYERS, kept"]


def test_user_partly_remote_hosts_are_not_replaced() -> None:
    current = user_layer(REDIS_BACKEND, ["redis://localhost:6379", REMOTE])
    decision = decide({"DYNO": "web.1", "REDIS_URL": ORANGE}, current)
    assert decision.config is None


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
