"""Channels 1 projects (channels==1.x, asgi_redis, ROUTING/channel_routing, asgi.py exporting
channel_layer) are recognised statically, and the build explains the migration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from buildpack import messages
from buildpack.core import channels1
from buildpack.core.analysis import analyze
from buildpack.core.pysource import ModuleIndex
from tests.support.paths import FIXTURES
from tests.support.sample_app import ASGI, SETTINGS, app

FIXTURE = FIXTURES / "channels1"
DOCS = "https://channels.readthedocs.io/en/2.x/one-to-two.html"
CHANNELS1_ASGI = (
    "from channels.asgi import get_channel_layer\nchannel_layer = get_channel_layer()\n"
)
CHANNELS4_SEND = (
    "from channels.layers import get_channel_layer\nchannel_layer = get_channel_layer()\n"
)
ROUTING = '"channels.layers.InMemoryChannelLayer", "ROUTING": "proj.routing.channel_routing"'
Files = dict[str, str | bytes | None]


def test_seed_fixture_is_a_channels1_project() -> None:
    plan = analyze(FIXTURE)
    assert plan.kind == "channels"
    assert len(plan.errors) == 1
    error = plan.errors[0]
    assert error.startswith("This is a Channels 1 project (channels==1.1.8 (requirements.txt:2); ")
    for evidence in (
        "asgi_redis in the dependencies",
        'CHANNEL_LAYERS "ROUTING": "my_project.routing.channel_routing"',
        'CHANNEL_LAYERS "BACKEND": "asgi_redis.RedisChannelLayer"',
    ):
        assert evidence in error
    assert "cannot run on today's stack" in error
    for step in (
        "consumers instead of channel_routing",
        "channels_redis instead of asgi_redis",
        "an ASGI application instead of channel_layer: my_project/asgi.py defines application",
        "runworker with channel names",
        DOCS,
    ):
        assert step in error
    # Its Procfile (daphne ...:channel_layer, runworker) is linted too, and nothing is planned.
    assert any("is a Channels 1 channel layer" in w for w in plan.procfile.warnings)
    assert plan.procfile.source == "user"
    assert plan.asgi is None and plan.app_path is None


def _channels4(root: Path, files: dict[str, str | bytes | None]) -> list[str]:
    app(root, files)
    return analyze(root).errors


@pytest.mark.parametrize(
    ("files", "evidence"),
    [
        ({"requirements.txt": "django\nchannels==1.1.8\n"}, "channels==1.1.8 (requirements.txt:2)"),
        ({"requirements.txt": "channels<2\ndaphne\n"}, "channels<2"),
        ({"requirements.txt": "channels\ndaphne~=1.4\n"}, "daphne~=1.4"),
        ({"requirements.txt": "channels\nasgi-redis\n"}, "asgi_redis in the dependencies"),
        ({"requirements.txt": "channels\nasgi_ipc\n"}, "asgi_ipc in the dependencies"),
        (
            {"proj/settings.py": SETTINGS.replace("channels.layers", "asgi_redis")},
            '"BACKEND": "asgi_redis.InMemoryChannelLayer"',
        ),
        (
            {"proj/settings.py": SETTINGS + 'CHANNEL_LAYERS["default"]["ROUTING"] = "r.c"\n'},
            None,  # a partial update is not folded: the ROUTING key is not known statically
        ),
        (
            {
                "proj/settings.py": SETTINGS.replace(
                    '"channels.layers.InMemoryChannelLayer"', ROUTING
                )
            },
            '"ROUTING": "proj.routing.channel_routing"',
        ),
        (
            {"proj/asgi.py": CHANNELS1_ASGI},
            "proj/asgi.py imports channels.asgi (get_channel_layer)",
        ),
    ],
)
def test_each_marker_alone(tmp_path: Path, files: Files, evidence: str | None) -> None:
    errors = _channels4(tmp_path, files)
    if evidence is None:
        assert not errors
        return
    assert len(errors) == 1 and errors[0].startswith("This is a Channels 1 project ("), errors
    assert evidence in errors[0]


@pytest.mark.parametrize(
    "files",
    [
        {"requirements.txt": "channels>=1.0\n"},  # allows Channels 4
        {"requirements.txt": "channels<5\n"},
        {"requirements.txt": "channels==4.3.2\nchannels-redis\n"},
        {"requirements.txt": "channels==banana\n"},
        {"proj/asgi.py": ASGI + CHANNELS4_SEND},
    ],
)
def test_channels4_projects_are_not_channels1(tmp_path: Path, files: Files) -> None:
    assert not [e for e in _channels4(tmp_path, files) if "Channels 1" in e]


def test_poetry_caret_constraint_is_not_guessed(tmp_path: Path) -> None:
    app(tmp_path, {"requirements.txt": None})
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\nchannels = "^1.1"\n'
    )
    assert channels1.evidence(analyze(tmp_path), _index(tmp_path)) == []


def _index(root: Path) -> ModuleIndex:
    return ModuleIndex([root], root)


def test_message_names_the_project_package(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "app")
    settings = tmp_path / "app" / "my_project" / "settings.py"
    settings.rename(settings.with_name("production.py"))
    plan = analyze(tmp_path / "app", {"DJANGO_SETTINGS_MODULE": "my_project.production"})
    assert 'ASGI_APPLICATION = "my_project.asgi.application"' in plan.errors[0]
    assert messages.CHANNELS1_PROJECT.split("(")[0] in plan.errors[0]
