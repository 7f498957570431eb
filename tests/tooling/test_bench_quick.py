"""The benchmark suite runs end to end and writes well-formed results (no speed asserted).

``python -m bench --quick --tiny --only boot http http_sync exactly_once redis_budget`` builds
the bench app through bin/*, starts real servers, Redis and load generators, and writes JSON,
Markdown and PNG charts into a temporary directory.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.redis]
FAMILIES = ("boot", "http", "http_sync", "exactly_once", "redis_budget")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.timeout(300)
def test_bench_quick_writes_json_markdown_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--quick", "--tiny", "--only", *FAMILIES]
    result = subprocess.run(
        [*command, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]

    [json_path] = list(out.glob("*.json"))
    data = json.loads(json_path.read_text())
    meta = data["meta"]
    for key in ("date", "hostname", "machine", "cpu_model", "cpu_count", "python", "profile"):
        assert meta.get(key), key
    versions = meta["versions_slug"]
    for name in ("django", "channels", "daphne", "channels-redis", "redis", "twisted"):
        assert versions.get(name), name
    for name in ("uvicorn", "gunicorn"):
        assert name in versions
    assert meta["load_generator"]["http"] in ("wrk", "python")

    assert set(data["families"]) == set(FAMILIES)
    for name in FAMILIES:
        family = data["families"][name]
        assert family["errors"] == [], family["errors"]
        assert family["ratios"], name
        for ratio in family["ratios"]:
            for key in ("ratio", "subject_value", "baseline_value"):
                assert _finite(ratio[key]), (name, ratio)
            assert ratio["better"] in ("higher", "lower")
            assert isinstance(ratio["client_bound"], bool)
    for key in ("ours_1", "daphne"):
        client = data["families"]["http"]["measurements"][key]["client"]
        assert isinstance(client["client_bound"], bool)
        assert _finite(client["cpu_busiest_process"])
    exactly_once = data["families"]["exactly_once"]["measurements"]
    for key in ("stock", "ours"):
        for field in ("processed_once", "duplicated_ids", "lost", "crashed_total"):
            assert isinstance(exactly_once[key][field], int), (key, field)

    budget = data["families"]["redis_budget"]["measurements"]
    for key in ("stock", "ours_c1"):
        for field in ("handled_once", "lost", "peak_clients", "refused_connections"):
            assert isinstance(budget[key][field], int), (key, field)

    markdown = json_path.with_suffix(".md").read_text()
    assert markdown.startswith("# channels-buildpack benchmarks")
    total_ratios = sum(len(data["families"][n]["ratios"]) for n in FAMILIES)
    assert markdown.count("| **") >= total_ratios  # one table row (bold ratio) per ratio

    charts = list(out.glob(f"{json_path.stem}-*.png"))
    assert charts
    for chart in charts:
        head = chart.read_bytes()[:8]
        assert head == PNG_MAGIC, chart
        assert chart.stat().st_size > 2000
