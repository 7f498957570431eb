"""The README's table of Redis clients per process type is what the code does.

Runs every process type of runtime_app, each alone against a Redis of its own (all at
once: ``tests/support/budget.py``) and compares with the table between the
``<!-- clients-table -->`` markers: idle and after-load figures exactly, the peak under load
as an upper bound (it depends on how commands overlap). The table itself must meet issue
11's targets: at most 2 clients per process at rest and 3 at peak.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.support.apps import LOCAL_HOSTS
from tests.support.budget import format_table, measure_in_parallel
from tests.support.deployment import Deployment
from tests.support.paths import README
from tests.support.platform import Build, Platform
from tests.support.procs import ProcessGroup
from tests.support.redis import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.slow]
ROW = re.compile(r"^\| (?P<label>[^|]+?) \| (?P<idle>\d+) \| (?P<load>\d+) \| (?P<after>\d+) \|")


def readme_table() -> dict[str, dict[str, int]]:
    text = README.read_text(encoding="utf-8")
    table = text.split("<!-- clients-table -->", 1)[1].split("<!-- /clients-table -->", 1)[0]
    rows = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["label"]] = {k: int(match[k]) for k in ("idle", "load", "after")}
    return rows


def test_readme_table_meets_the_targets() -> None:
    rows = readme_table()
    assert len(rows) == 7, rows
    for label, figures in rows.items():
        assert figures["idle"] <= 2 and figures["after"] <= 2, label
        assert figures["load"] <= 3, label


def test_readme_table_is_what_the_processes_hold(
    build_app: Callable[..., Build],
    platform: Platform,
    procs: ProcessGroup,
    redis_factory: Callable[..., RedisServer],
) -> None:
    build = build_app("runtime_app", **LOCAL_HOSTS)
    measured = measure_in_parallel(Deployment(platform, procs, build, {}), redis_factory)
    documented = readme_table()
    shown = "measured:\n" + format_table(measured)
    assert set(measured) == set(documented), shown
    for label, figures in measured.items():
        assert figures["idle"] == documented[label]["idle"], shown
        assert figures["after"] == documented[label]["after"], shown
        assert figures["load"] <= documented[label]["load"], shown
