"""``channels-buildpack init`` on every fixture app, as a real command: the files it writes
validate (app.json against Heroku's JSON Schema, the Procfile through our lint, project.toml
as the README shows it, .env.example through honcho's parser), and files that exist are
never changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from buildpack.commands.init import BUILDPACK_URL, CNB_IMAGE, merged_app_json
from buildpack.core import procfile
from buildpack.core.analysis import analyze
from tests.support.apps import copy_fixture, fixture_meta, fixture_names
from tests.support.paths import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCHEMA = json.loads((REPO / "tests" / "support" / "schemas" / "app-json.schema.json").read_text())
DEPLOYABLE = [n for n in fixture_names() if fixture_meta(n).get("compile") == "ok"]
NOT_DEPLOYABLE = [n for n in fixture_names() if fixture_meta(n).get("compile") != "ok"]


def _init(app: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "buildpack", "init", str(app)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _snapshot(app: Path) -> dict[str, bytes]:
    return {str(p.relative_to(app)): p.read_bytes() for p in sorted(app.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_init_writes_valid_files_and_a_second_run_changes_nothing(
    name: str, tmp_path: Path
) -> None:
    app = copy_fixture(name, tmp_path)
    before = _snapshot(app)
    result = _init(app)
    assert result.returncode == 0, result.stderr
    after = _snapshot(app)
    assert {k: v for k, v in after.items() if k in before} == before, "an existing file changed"
    plan = analyze(app)

    data = json.loads((app / "app.json").read_text())
    if "app.json" not in before:
        jsonschema.validate(data, SCHEMA)
        assert [b["url"] for b in data["buildpacks"]] == ["heroku/python", BUILDPACK_URL]
        formation = data["formation"]
        assert formation["web"]["quantity"] == 1
        assert ("worker" in formation) == bool(plan.background_channels)
        assert ("heroku-redis:mini" in data["addons"]) == plan.is_channels
        secrets = [v for v in data["env"].values() if v.get("generator") == "secret"]
        assert len(secrets) == 1
        assert data["env"]["DJANGO_ALLOWED_HOSTS"]["value"]
        assert "check --deploy" in data["environments"]["test"]["scripts"]["test"]

    processes = procfile.parse((app / "Procfile").read_text())
    warnings = procfile.lint(
        processes, channels=plan.is_channels, background_channels=plan.background_channels
    )
    if "Procfile" in before:
        assert "Procfile: exists, left unchanged" in result.stdout
        for warning in warnings:  # the user's Procfile is linted, not changed
            assert warning in result.stdout
    else:
        assert warnings == [], warnings
        assert "web" in processes

    toml = tomllib.loads((app / "project.toml").read_text())
    group = toml["io"]["buildpacks"]["group"]
    assert toml["_"]["schema-version"] == "0.2"
    assert group == [{"id": "heroku/python"}, {"uri": CNB_IMAGE}, {"id": "heroku/procfile"}]

    from honcho.environ import parse

    env = parse((app / ".env.example").read_text())
    secret_name = next(k for k, v in data["env"].items() if v.get("generator") == "secret")
    assert secret_name in env and "DJANGO_ALLOWED_HOSTS" in env

    again = _init(app)
    assert again.returncode == 0
    assert _snapshot(app) == after, "a second run changed a file"
    assert "wrote" not in again.stdout


def test_init_never_changes_an_existing_app_json_and_shows_what_it_lacks(tmp_path: Path) -> None:
    app = copy_fixture("background_channels", tmp_path)
    mine = '{\n  "name": "mine",\n  "env": {"WEB_CONCURRENCY": {"value": "3"}}\n}\n'
    (app / "app.json").write_text(mine)
    result = _init(app)
    assert result.returncode == 0, result.stderr
    assert (app / "app.json").read_text() == mine
    assert "app.json: exists, left unchanged" in result.stdout
    assert '+  "formation"' in result.stdout and "heroku-redis:mini" in result.stdout
    assert (app / "Procfile").is_file()  # the other files are still written


def test_merged_app_json_adds_only_what_is_missing() -> None:
    ours = {
        "name": "x",
        "description": "d",
        "keywords": [],
        "env": {"A": {"value": "1"}},
        "formation": {"web": {"quantity": 1}},
        "addons": ["heroku-redis:mini"],
        "buildpacks": [{"url": "heroku/python"}, {"url": BUILDPACK_URL}],
        "environments": {},
    }
    theirs = {"env": {"A": {"value": "mine"}}, "addons": ["heroku-redis:premium-0"]}
    merged = merged_app_json(theirs, ours)
    assert merged["env"]["A"] == {"value": "mine"}
    assert merged["addons"] == ["heroku-redis:premium-0"]
    assert [b["url"] for b in merged["buildpacks"]] == ["heroku/python", BUILDPACK_URL]


@pytest.mark.parametrize("name", NOT_DEPLOYABLE)
def test_init_refuses_what_cannot_deploy_and_writes_nothing(name: str, tmp_path: Path) -> None:
    app = copy_fixture(name, tmp_path)
    before = _snapshot(app)
    result = _init(app)
    assert result.returncode == 1
    assert "Fix:" in result.stderr and "Traceback" not in result.stderr
    assert _snapshot(app) == before
