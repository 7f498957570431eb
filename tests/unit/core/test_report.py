"""Unit tests for ``buildpack.core.report``: the plan as the build log and ``inspect`` show it."""

from __future__ import annotations

from typing import Any

import pytest

from buildpack import messages
from buildpack.core.analysis import analyze, describe_asgi
from buildpack.core.plan import AsgiInfo, Plan, SettingsInfo
from buildpack.core.report import plan_rows, plan_text
from tests.support.paths import FIXTURES


def test_report_rows_channels() -> None:
    rows = dict(plan_rows(analyze(FIXTURES / "background_channels")))
    assert rows["Project"] == ". (manage.py: manage.py)"
    assert rows["Settings"] == "bgproj.settings (from manage.py)"
    assert rows["ASGI app"] == "bgproj.asgi:application (Channels ProtocolTypeRouter)"
    assert rows["WebSocket routes"] == "chat.routing, tasks.routing"
    assert rows["Background"] == "emails, thumbnails"
    assert rows["Channel layer"] == "RedisChannelLayer, InMemoryChannelLayer (reads REDIS_URL)"
    assert rows["Database"] == "sqlite3"
    assert rows["Dependencies"].startswith("pip (requirements.txt): django")
    assert "Generated" not in rows
    assert "WSGI app" not in rows


def test_report_rows_stock_and_plain() -> None:
    rows = dict(plan_rows(analyze(FIXTURES / "stock_asgi_routing")))
    assert (
        rows["ASGI app"]
        == "stockproj.asgi:application (Django's stock asgi.py (no WebSocket routing))"
    )
    assert (
        rows["Generated"]
        == "channels_buildpack_asgi.py (serves channels_buildpack_asgi:application)"
    )
    assert rows["Background"] == "no channels"
    rows = dict(plan_rows(analyze(FIXTURES / "plain_django")))
    assert rows["WSGI app"] == "plainsite.wsgi:application"
    assert "ASGI app" not in rows


def test_report_without_settings_or_dependencies() -> None:
    plan = Plan(kind="django", reason="")
    assert plan_rows(plan) == [
        ("Project", ". (manage.py: none)"),
        ("Dependencies", "no dependency files found"),
    ]


def test_report_text_is_aligned_and_redacted() -> None:
    plan = Plan(kind="channels", reason="", project_dir="redis://user:hunter2@host:6379")
    plan.settings = SettingsInfo(module="proj.settings", source="manage.py")
    text = plan_text(plan)
    assert "hunter2" not in text
    lines = text.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [
        "Project",
        "Dependencies",
        "Settings",
        "Channel layer",
        "Database",
    ]
    starts = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in lines}
    assert starts == {len("Dependencies:  ")}
    assert dict(plan_rows(plan))["Channel layer"] == (
        "not configured (Redis from REDIS_URL, else in-memory single-process)"
    )


@pytest.mark.parametrize(
    ("kind", "aware", "expected"),
    [
        ("channels", True, "m.asgi:application (Channels ProtocolTypeRouter)"),
        ("stock", False, "m.asgi:application (Django's stock asgi.py (no WebSocket routing))"),
        ("missing", False, "m.asgi:application (no asgi.py)"),
        ("custom", False, "m.asgi:application (custom ASGI_APPLICATION)"),
    ],
)
def test_describe_asgi(kind: Any, aware: bool, expected: str) -> None:
    assert describe_asgi(AsgiInfo(kind=kind, module="m.asgi", channels_aware=aware)) == expected


def test_static_files_warning_only_without_a_static_file_server() -> None:
    tutorial = analyze(FIXTURES / "tutorial")
    assert messages.STATIC_FILES_NOT_SERVED in tutorial.warnings
    example = analyze(FIXTURES.parent.parent / "example")  # uses WhiteNoise
    assert messages.STATIC_FILES_NOT_SERVED not in example.warnings
    plain = analyze(FIXTURES / "plain_django")  # gunicorn: not Daphne's problem here
    assert messages.STATIC_FILES_NOT_SERVED not in plain.warnings
