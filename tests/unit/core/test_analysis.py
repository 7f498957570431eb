"""Unit tests for ``buildpack.core.analysis``: the plan of every fixture app, and of small
projects written to ``tmp_path`` (settings module, ASGI module, warnings and errors).

Everything runs on files; nothing here imports or runs user code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from buildpack import messages
from buildpack.core.analysis import analyze
from buildpack.core.asgi_scan import (
    GENERATED_MODULE,
)
from tests.support.apps import copy_fixture, fixture_meta, fixture_names
from tests.support.paths import FIXTURES
from tests.support.projects import (
    CHANNELS_ASGI,
    CHAT_ROUTING,
    STOCK_ASGI,
    manage_py,
    write,
)

FIXTURE_META: dict[str, dict[str, Any]] = {name: fixture_meta(name) for name in fixture_names()}
PLANNED = {
    name: meta["expected_plan"] for name, meta in FIXTURE_META.items() if "expected_plan" in meta
}

REDIS = "channels_redis.core.RedisChannelLayer"
MEMORY = "channels.layers.InMemoryChannelLayer"


@pytest.mark.parametrize(("name", "expected"), PLANNED.items(), ids=list(PLANNED))
def test_fixture_plan(name: str, expected: dict[str, Any]) -> None:
    plan = analyze(FIXTURES / name)
    assert plan.kind == (
        "channels" if FIXTURE_META[name]["detect"] == "Django Channels" else "django"
    )
    assert plan.project_dir == expected["project_dir"]
    assert plan.settings.module == expected["settings_module"]
    assert plan.dependencies is not None
    missing = set(expected["dependencies"]) - plan.dependencies.names()
    assert not missing
    for absent in FIXTURE_META[name].get("absent_dependencies", []):
        assert absent not in plan.dependencies.names()
    if FIXTURE_META[name].get("compile") == "fail":
        assert plan.errors
        return
    assert plan.errors == []
    assert plan.settings.asgi_application == expected["asgi_application"]
    if "asgi_kind" in expected:
        assert plan.asgi is not None
        assert plan.asgi.kind == expected["asgi_kind"]
        assert plan.asgi.websocket_modules == expected["websocket_modules"]
        assert plan.asgi.background_channels == expected["background_channels"]
        assert plan.server == "daphne"
        assert plan.procfile.processes["web"].startswith("channels-buildpack web ") or (
            plan.procfile.source == "user"
        )
    else:
        assert plan.asgi is None
        assert expected["websocket_modules"] == []
        assert expected["background_channels"] == []
    assert plan.background_channels == expected["background_channels"]


@pytest.mark.parametrize("name", list(FIXTURE_META), ids=list(FIXTURE_META))
def test_plan_json_is_serialisable_and_relative(name: str) -> None:
    plan = analyze(FIXTURES / name)
    text = json.dumps(plan.to_json())
    data = json.loads(text)
    assert str(FIXTURES) not in text
    assert data["kind"] == plan.kind
    assert set(data) >= {"kind", "reason", "project_dir", "settings", "asgi", "procfile", "errors"}


@pytest.mark.parametrize("name", ["pipfile_subdir", "broken_settings", "stock_asgi_routing"])
def test_plan_json_of_a_build_dir_has_no_build_path(name: str, tmp_path: Path) -> None:
    build_dir = tmp_path / "build_0123abcd"
    shutil.copytree(FIXTURES / name, build_dir)
    plan = analyze(build_dir, {"DATABASE_URL": "postgres://u:p@h/db"})
    text = json.dumps(plan.to_json())
    assert str(tmp_path) not in text
    assert "build_0123abcd" not in text
    assert text == json.dumps(analyze(FIXTURES / name, {"DATABASE_URL": "x"}).to_json())


def test_broken_settings_error_names_file_and_line() -> None:
    line = FIXTURE_META["broken_settings"]["syntax_error_line"]
    plan = analyze(FIXTURES / "broken_settings")
    assert len(plan.errors) == 1
    assert "brokenproj/settings.py" in plan.errors[0]
    assert f"line {line}:" in plan.errors[0]
    assert plan.errors[0].startswith("Your settings cannot be read: brokenproj/settings.py line 28")
    assert plan.settings.module == "brokenproj.settings"
    assert plan.settings.error is not None and "brokenproj/settings.py:28" in plan.settings.error
    assert plan.asgi is None
    assert plan.procfile.source == "none"


def test_not_django() -> None:
    plan = analyze(FIXTURES / "not_django")
    assert plan.kind == "none"
    assert "not a Django project" in plan.reason
    assert plan.dependencies is None
    assert plan.procfile.source == "none"
    assert plan.errors == []


def test_plain_django_uses_gunicorn() -> None:
    plan = analyze(FIXTURES / "plain_django")
    assert plan.kind == "django"
    assert plan.server == "gunicorn"
    assert plan.app_path == "plainsite.wsgi:application"
    assert plan.wsgi_app_path == "plainsite.wsgi:application"
    assert plan.asgi is None
    assert plan.procfile.source == "generated"
    assert plan.procfile.processes["web"] == "gunicorn plainsite.wsgi:application"


def test_own_procfile_is_kept_and_linted() -> None:
    plan = analyze(FIXTURES / "own_procfile")
    assert plan.procfile.source == "user"
    assert plan.procfile.processes == {
        "web": "daphne -b 0.0.0.0 -p $PORT --proxy-headers ownproj.asgi:application",
        "release": "python manage.py migrate --noinput && python manage.py check",
    }
    assert plan.procfile.warnings == [messages.PROCFILE_CHAIN.format(name="release")]


def test_stock_asgi_routing_generates_module() -> None:
    plan = analyze(FIXTURES / "stock_asgi_routing")
    assert plan.asgi is not None
    assert plan.asgi.kind == "stock"
    assert plan.asgi.generated == "channels_buildpack_asgi.py"
    assert plan.app_path == "channels_buildpack_asgi:application"
    assert (
        plan.procfile.processes["web"]
        == "channels-buildpack web channels_buildpack_asgi:application"
    )


def test_channels_project_app_path_and_worker() -> None:
    plan = analyze(FIXTURES / "background_channels")
    assert plan.app_path == "bgproj.asgi:application"
    assert plan.asgi is not None and plan.asgi.generated is None
    assert plan.procfile.processes["worker"] == "channels-buildpack worker bgproj.asgi:application"
    assert plan.settings.channel_layers is not None
    assert plan.settings.channel_layers.backends == [REDIS, MEMORY]
    assert plan.settings.channel_layers.env_vars == ["REDIS_URL"]


def test_pipfile_subdir_paths_are_relative_to_the_app_root() -> None:
    plan = analyze(FIXTURES / "pipfile_subdir")
    assert plan.manage_py == "backend/manage.py"
    assert plan.settings.files == ["backend/core/settings.py"]
    assert plan.asgi is not None and plan.asgi.path == "backend/core/asgi.py"


def test_settings_module_config_var_overrides_manage_py(tmp_path: Path) -> None:
    app = copy_fixture("tutorial", tmp_path)
    (app / "mysite" / "settings_prod.py").write_text(
        'from .settings import *  # noqa\nINSTALLED_APPS = ["channels", "chat"]\n', encoding="utf-8"
    )
    plan = analyze(app, {"DJANGO_SETTINGS_MODULE": "  mysite.settings_prod\n"})
    assert plan.settings.module == "mysite.settings_prod"
    assert plan.settings.source == "DJANGO_SETTINGS_MODULE config var"
    assert plan.settings.installed_apps == ["channels", "chat"]
    assert plan.settings.files == ["mysite/settings_prod.py", "mysite/settings.py"]
    # asgi.py defaults to mysite.settings, but the config var wins everywhere: no warning.
    assert not any("DJANGO_SETTINGS_MODULE=" in w for w in plan.warnings)


def test_settings_mismatch_between_manage_py_and_asgi_warns(tmp_path: Path) -> None:
    app = copy_fixture("tutorial", tmp_path)
    (app / "mysite" / "settings_dev.py").write_text("from .settings import *  # noqa\n")
    manage = app / "manage.py"
    manage.write_text(manage.read_text().replace('"mysite.settings"', '"mysite.settings_dev"'))
    plan = analyze(app)
    assert plan.settings.module == "mysite.settings_dev"
    expected = messages.SETTINGS_MISMATCH.format(
        asgi="mysite/asgi.py", asgi_settings="mysite.settings", settings="mysite.settings_dev"
    )
    assert expected in plan.warnings


def test_two_manage_py_at_the_same_depth_warn(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "django\n",
            "site_b/manage.py": manage_py("proj.settings"),
            "site_a/manage.py": manage_py("proj.settings"),
            "site_a/proj/__init__.py": "",
            "site_a/proj/settings.py": 'WSGI_APPLICATION = "proj.wsgi.application"\n',
        },
    )
    plan = analyze(tmp_path)
    assert plan.manage_py == "site_a/manage.py"
    assert plan.project_dir == "site_a"
    assert plan.manage_py_candidates == ["site_a/manage.py", "site_b/manage.py"]
    assert plan.warnings[0] == messages.SEVERAL_MANAGE_PY.format(
        paths="site_a/manage.py, site_b/manage.py", chosen="site_a/manage.py"
    )
    assert plan.procfile.processes["web"] == "gunicorn --chdir site_a proj.wsgi:application"


def _stock_project(root: Path, extra: dict[str, str] | None = None) -> Path:
    return write(
        root,
        {
            "requirements.txt": "django\nchannels\n",
            "manage.py": manage_py(),
            "proj/__init__.py": "",
            "proj/settings.py": 'INSTALLED_APPS = ["channels", "chat"]\n',
            "proj/asgi.py": STOCK_ASGI,
            "chat/__init__.py": "",
            "chat/routing.py": CHAT_ROUTING,
            **(extra or {}),
        },
    )


def test_user_file_with_generated_name_is_an_error(tmp_path: Path) -> None:
    app = _stock_project(tmp_path, {f"{GENERATED_MODULE}.py": "application = None\n"})
    plan = analyze(app)
    assert plan.errors == [messages.GENERATED_NAME_TAKEN.format(path="channels_buildpack_asgi.py")]


def test_previously_generated_file_is_not_an_error(tmp_path: Path) -> None:
    app = _stock_project(
        tmp_path,
        {f"{GENERATED_MODULE}.py": '"""(channels-buildpack-generated: do not edit)"""\n'},
    )
    plan = analyze(app)
    assert plan.errors == []
    assert plan.asgi is not None and plan.asgi.generated == "channels_buildpack_asgi.py"


def test_stock_asgi_without_routes_is_served_as_is(tmp_path: Path) -> None:
    app = _stock_project(tmp_path)
    (app / "chat" / "routing.py").unlink()
    plan = analyze(app)
    assert plan.asgi is not None
    assert plan.asgi.kind == "stock"
    assert plan.asgi.generated is None
    assert plan.app_path == "proj.asgi:application"


def test_missing_asgi_is_generated(tmp_path: Path) -> None:
    app = _stock_project(tmp_path)
    (app / "proj" / "asgi.py").unlink()
    plan = analyze(app)
    assert plan.asgi is not None
    assert plan.asgi.kind == "missing"
    assert plan.asgi.generated == "channels_buildpack_asgi.py"
    assert plan.app_path == "channels_buildpack_asgi:application"


def test_channels_asgi_without_origin_validation_warns(tmp_path: Path) -> None:
    asgi = CHANNELS_ASGI.replace("AllowedHostsOriginValidator(", "(")
    app = _stock_project(tmp_path, {"proj/asgi.py": asgi})
    plan = analyze(app)
    assert plan.asgi is not None and plan.asgi.kind == "channels"
    assert messages.NO_ORIGIN_VALIDATION.format(path="proj/asgi.py") in plan.warnings
    app2 = _stock_project(tmp_path / "ok", {"proj/asgi.py": CHANNELS_ASGI})
    assert not any("AllowedHostsOriginValidator" in w for w in analyze(app2).warnings)


def test_asgi_setting_naming_a_missing_module_is_an_error(tmp_path: Path) -> None:
    app = _stock_project(
        tmp_path, {"proj/settings.py": 'ASGI_APPLICATION = "proj.routing.application"\n'}
    )
    plan = analyze(app)
    assert plan.errors == [
        messages.ASGI_SETTING_MISSING_MODULE.format(
            setting="proj.routing.application", module="proj.routing"
        )
    ]


def test_unparsable_asgi_module_is_an_error_not_a_crash(tmp_path: Path) -> None:
    app = _stock_project(tmp_path, {"proj/asgi.py": "application = (\n"})
    plan = analyze(app)
    assert len(plan.errors) == 1
    assert plan.errors[0].startswith("Cannot read proj/asgi.py: ")
    assert "Cannot read proj/asgi.py: line 1: SyntaxError" in plan.errors[0]
    assert plan.errors[0].count("proj/asgi.py") == 2  # the message, then the fix command
    assert plan.asgi is None
    assert plan.procfile.source == "none"


def test_settings_module_without_a_file_is_an_error(tmp_path: Path) -> None:
    app = _stock_project(tmp_path)
    (app / "proj" / "settings.py").unlink()
    plan = analyze(app)
    assert plan.errors == [
        messages.SETTINGS_MODULE_MISSING.format(
            module="proj.settings", source="manage.py", project_dir="."
        )
    ]


def test_manage_py_without_settings_module_is_an_error(tmp_path: Path) -> None:
    app = _stock_project(tmp_path, {"manage.py": "import sys\n"})
    plan = analyze(app)
    assert plan.errors == [messages.SETTINGS_MODULE_UNKNOWN]


def test_unparsable_manage_py_is_an_error(tmp_path: Path) -> None:
    app = _stock_project(tmp_path, {"manage.py": "def main(:\n"})
    plan = analyze(app)
    assert len(plan.errors) == 1
    assert plan.errors[0].startswith("Cannot read manage.py: SyntaxError")


def test_uses_database(tmp_path: Path) -> None:
    app = _stock_project(tmp_path)
    assert analyze(app).uses_database is False
    assert analyze(app, {"DATABASE_URL": "postgres://u:p@h/db"}).uses_database is True
    (app / "proj" / "settings.py").write_text(
        'INSTALLED_APPS = ["channels"]\n'
        'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}\n'
    )
    plan = analyze(app)
    assert plan.uses_database is True
    assert messages.SQLITE_ON_DYNO in plan.warnings


def test_daphne_after_staticfiles_warns(tmp_path: Path) -> None:
    app = _stock_project(
        tmp_path,
        {"proj/settings.py": 'INSTALLED_APPS = ["django.contrib.staticfiles", "daphne"]\n'},
    )
    assert messages.DAPHNE_AFTER_STATICFILES in analyze(app).warnings


def test_flat_layout_wsgi_app_path(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "Django\n",
            "manage.py": manage_py("settings"),
            "settings.py": 'INSTALLED_APPS = ["django.contrib.admin"]\n',
            "wsgi.py": "application = None\n",
        },
    )
    plan = analyze(tmp_path)
    assert plan.errors == []
    assert plan.app_path == "wsgi:application"
    assert plan.procfile.processes["web"] == "gunicorn wsgi:application"
