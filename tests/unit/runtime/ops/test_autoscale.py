"""Unit rules of the operating tools: key classification, tokens, log masking, process types."""

from __future__ import annotations

from pathlib import Path

from buildpack import envvars
from buildpack.redact import credential_values
from buildpack.runtime.ops.autoscale import mask_path, masked_access_log, token_matches
from buildpack.runtime.ops.background_channels import worker_process_types
from buildpack.runtime.ops.layer_state import ChannelStat, classify


def test_keys_are_sorted_into_channels_groups_inboxes_and_heartbeats() -> None:
    keys = [
        b"asgijobs",
        b"asgithumbs",
        b"asgi:group:lobby",
        b"asgispecific.abc!",
        b"asgi:cbp:process:worker.1:12",
        b"asgijobs$inflight",
        b"asgi:other-tool",
    ]
    scan = classify(keys, "asgi")
    assert scan.channels == {"jobs", "thumbs"}
    assert scan.groups == [b"asgi:group:lobby"]
    assert scan.inboxes == [b"asgispecific.abc!"]
    assert scan.beats == [b"asgi:cbp:process:worker.1:12"]


def test_capacity_use_is_the_fullest_shard() -> None:
    stat = ChannelStat("jobs", depth=60, capacity=50, per_shard=[10, 50])
    assert stat.capacity_use == 1.0
    assert stat.numbers()["depth"] == 60


def test_tokens_compare_exactly_and_an_empty_token_never_matches() -> None:
    assert token_matches("s3cret-token", "s3cret-token")
    assert not token_matches("s3cret-toke", "s3cret-token")
    assert not token_matches("", "")


def test_the_hirefire_token_never_reaches_the_access_log() -> None:
    seen: list[dict[str, object]] = []
    log = masked_access_log(lambda protocol, action, details: seen.append(details))
    log("http", "complete", {"path": "/hirefire/abc123/info", "status": 200})
    log("http", "complete", {"path": "/health/", "status": 200})
    assert [d["path"] for d in seen] == ["/hirefire/***/info", "/health/"]
    assert mask_path("/hirefire/x/info/") == "/hirefire/***/info"


def test_worker_process_types_follow_the_procfile(tmp_path: Path) -> None:
    channels = ["emails", "thumb-large", "thumb-small"]
    assert worker_process_types(channels, tmp_path) == {"worker": channels}
    (tmp_path / "Procfile").write_text(
        "web: channels-buildpack web app.asgi:application\n"
        "worker: channels-buildpack worker app.asgi:application --exclude 'thumb*'\n"
        "thumbs: channels-buildpack worker --only 'thumb*'\n"
        "legacy: python manage.py runworker emails\n"
    )
    sub = tmp_path / "backend"
    sub.mkdir()
    assert worker_process_types(channels, sub) == {
        "worker": ["emails"],
        "thumbs": ["thumb-large", "thumb-small"],
        "legacy": ["emails"],
    }


def test_heartbeat_interval_and_credentials() -> None:
    every, name = envvars.HEARTBEAT_SECONDS.default, envvars.HEARTBEAT_SECONDS.name
    assert envvars.heartbeat_seconds({}) == every == 10
    assert envvars.heartbeat_seconds({name: "0"}) == 0
    assert envvars.heartbeat_seconds({name: "x"}) == every
    env = {"CHANNELS_METRICS_TOKEN": "t0ken", "DJANGO_SECRET_KEY": "k3y", "DYNO": "web.1"}
    assert credential_values(env) == ["t0ken", "k3y"]
