"""pytest plugin for an upstream suite run by :func:`tests.support.upstream.run_suite`.

Loaded in that subprocess with ``-p tests.support.upstream_plugin``. Environment:
``UPSTREAM_REDIS_ADDRESS`` (``127.0.0.1:PORT`` of the test's redis-server) and
``UPSTREAM_OUTCOMES`` (where to write the outcomes as JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.upstream import EXPECTED_DIFFERENCES

UPSTREAM_REDIS = ("localhost", 6379)  # hard-coded by the suites; channels_redis's default
OUR_CLASSES = ("RedisChannelLayer", "RedisPubSubChannelLayer")

_outcomes: dict[str, list[str]] = {}
_expected_failures: dict[str, str] = {}  # marked node id -> its failure ("" until it fails)
_configs: list[pytest.Config] = []


def to_test_redis(host: dict[str, Any], address: str) -> dict[str, Any]:
    """*host* (a channels_redis host dict) with ``localhost:6379`` replaced by *address*."""
    test_host, test_port = address.rsplit(":", 1)
    if "address" in host:
        url = urlsplit(str(host["address"]))
        if (url.hostname, url.port or 6379) == UPSTREAM_REDIS:
            return {**host, "address": urlunsplit(url._replace(netloc=address))}
    elif (host.get("host"), host.get("port", 6379)) == UPSTREAM_REDIS:
        return {**host, "host": test_host, "port": int(test_port)}
    raise ValueError(f"an upstream test names a Redis other than localhost:6379: {host}")


def _point_layers_at_test_redis(address: str) -> None:
    """Wrap ``decode_hosts`` where the stock layers (and so ours) call it."""
    import channels_redis.core
    import channels_redis.pubsub
    import channels_redis.utils

    original = channels_redis.utils.decode_hosts

    def decode_hosts(hosts: Any) -> list[dict[str, Any]]:
        return [to_test_redis(host, address) for host in original(hosts)]

    channels_redis.core.decode_hosts = decode_hosts
    channels_redis.pubsub.decode_hosts = decode_hosts


def pytest_configure(config: pytest.Config) -> None:
    _configs.append(config)
    _point_layers_at_test_redis(os.environ["UPSTREAM_REDIS_ADDRESS"])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        for name in OUR_CLASSES:
            cls = getattr(module, name, None)
            if cls is not None and not cls.__module__.startswith("buildpack."):
                raise pytest.UsageError(f"{item.nodeid} would test {cls.__module__}.{name}")
        difference = EXPECTED_DIFFERENCES.get(f"{Path(item.path).name}::{item.name}")
        if difference is not None:
            reason = f"expected difference: {difference.reason}"
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
            _expected_failures[item.nodeid] = ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if item.nodeid in _expected_failures and call.excinfo is not None:
        _expected_failures[item.nodeid] += call.excinfo.exconly()
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _outcomes.setdefault(report.nodeid, []).append("error")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record the category pytest's terminal summary counts this report under."""
    config = _configs[-1]
    category, _, _ = config.hook.pytest_report_teststatus(report=report, config=config)
    if category:
        _outcomes.setdefault(report.nodeid, []).append(category)


def pytest_sessionfinish(session: pytest.Session) -> None:
    record = {"outcomes": _outcomes, "expected_failures": _expected_failures}
    Path(os.environ["UPSTREAM_OUTCOMES"]).write_text(json.dumps(record, indent=1))
