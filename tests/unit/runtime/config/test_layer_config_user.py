"""Unit tests for ``buildpack.runtime.config.layer_config`` with the user's own
CHANNEL_LAYERS: kept (``CHANNELS_LAYER=keep``, a real backend), switched to our subclasses,
its ``rediss://`` hosts given TLS options, its localhost Redis replaced on a dyno.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from buildpack.runtime.config.layer_config import decide
from buildpack.runtime.layers import (
    PUBSUB_BACKEND,
    RABBITMQ_BACKEND,
    REDIS_BACKEND,
    STOCK_MEMORY_BACKEND,
    STOCK_REDIS_BACKEND,
)
from tests.support.layer_decisions import (
    NO_TLS_CHECK,
    ORANGE,
    REMOTE,
    REMOTE_TLS,
    assert_no_secret,
    user_layer,
)

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
