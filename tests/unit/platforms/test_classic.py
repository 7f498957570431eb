"""Unit tests for ``buildpack.platforms.classic``: what ``bin/release`` prints from the slug
(the Procfile in effect, the add-on compile decided on).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.core.build import STATE_FILE
from buildpack.platforms.classic import REDIS_ADDON, release_yaml
from tests.support.paths import REPO


def parse_release_yaml(text: str) -> dict[str, object]:
    """The YAML subset bin/release prints: two top-level keys, a list and a mapping whose
    values are JSON strings (a JSON string is a YAML double-quoted scalar)."""
    lines = text.splitlines()
    assert lines[0] == "---"
    result: dict[str, object] = {}
    current: str | None = None
    for line in lines[1:]:
        if not line.startswith(" "):
            key, _, rest = line.partition(":")
            current = key
            assert rest in ("", " []", " {}"), line
            result[key] = [] if rest in ("", " []") and key == "addons" else {}
        elif line.startswith("  - "):
            assert current == "addons"
            addons = result["addons"]
            assert isinstance(addons, list)
            addons.append(line[4:])
        else:
            assert current == "default_process_types"
            name, sep, value = line.strip().partition(": ")
            assert sep and re.fullmatch(r"[A-Za-z0-9_-]+", name), line
            processes = result["default_process_types"]
            assert isinstance(processes, dict)
            processes[name] = json.loads(value)
    return result


def _build(tmp_path: Path, procfile: str | None, state: dict[str, object] | None) -> Path:
    if procfile is not None:
        (tmp_path / "Procfile").write_text(procfile, encoding="utf-8")
    if state is not None:
        path = tmp_path / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state), encoding="utf-8")
    return tmp_path


def test_release_yaml_full(tmp_path: Path) -> None:
    procfile = (
        "web: channels-buildpack web mysite.asgi:application\n"
        "worker: channels-buildpack worker mysite.asgi:application\n"
        "release: python manage.py migrate --noinput\n"
    )
    text = release_yaml(_build(tmp_path, procfile, {"redis_addon": True}))
    assert text.endswith("\n")
    assert parse_release_yaml(text) == {
        "addons": [REDIS_ADDON],
        "default_process_types": {
            "web": "channels-buildpack web mysite.asgi:application",
            "worker": "channels-buildpack worker mysite.asgi:application",
        },
    }
    assert "release" not in text
    assert REDIS_ADDON == "heroku-redis:mini"


@pytest.mark.parametrize(
    "state", [{"redis_addon": False}, {}, None], ids=["opted-out", "no-key", "no-state-file"]
)
def test_release_yaml_without_addons(tmp_path: Path, state: dict[str, object] | None) -> None:
    text = release_yaml(_build(tmp_path, "web: gunicorn p.wsgi\n", state))
    assert "addons: []\n" in text
    assert parse_release_yaml(text) == {
        "addons": [],
        "default_process_types": {"web": "gunicorn p.wsgi"},
    }


@pytest.mark.parametrize(
    "procfile", ["", "# nothing\n", "release: python manage.py migrate\n", None]
)
def test_release_yaml_no_process_types(tmp_path: Path, procfile: str | None) -> None:
    text = release_yaml(_build(tmp_path, procfile, None))
    assert text == "---\naddons: []\ndefault_process_types: {}\n"
    assert parse_release_yaml(text) == {"addons": [], "default_process_types": {}}


def test_release_yaml_quotes_special_characters(tmp_path: Path) -> None:
    commands = {
        "web": "daphne -b 0.0.0.0 -p $PORT m.asgi:application # not a comment",
        "worker": "sh -c 'echo \"a: b\" \\ c'",
        "clock": "- dash: {brace} [bracket] &anchor *alias !tag %pct @at `tick`",
    }
    procfile = "".join(f"{name}: {command}\n" for name, command in commands.items())
    text = release_yaml(_build(tmp_path, procfile, None))
    assert parse_release_yaml(text)["default_process_types"] == commands


def test_bin_release_script(tmp_path: Path) -> None:
    _build(tmp_path, "web: gunicorn p.wsgi\nrelease: x\n", {"redis_addon": True})
    real_python = Path(sys._base_executable).parent
    result = subprocess.run(
        [str(REPO / "bin" / "release"), str(tmp_path)],
        env={"PATH": f"{real_python}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == release_yaml(tmp_path)
    assert parse_release_yaml(result.stdout) == {
        "addons": ["heroku-redis:mini"],
        "default_process_types": {"web": "gunicorn p.wsgi"},
    }
