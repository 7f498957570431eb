"""Unit tests for ``buildpack.core.generate``: the Procfile commands and the Channels ASGI
module the build writes.

Fast and local: plans come from static analysis of fixture apps (or small apps in
``tmp_path``).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.core.analysis import analyze
from buildpack.core.generate import (
    MARKER,
    PROFILE_SCRIPT,
    asgi_module_source,
    generated_module_name,
    is_generated_file,
    process_commands,
    profile_script,
    write_generated_asgi,
)
from buildpack.core.plan import Plan
from buildpack.core.procfile import Commands
from tests.support.apps import fixture_meta, fixture_names
from tests.support.paths import FIXTURES
from tests.support.projects import write

PLANNED = [name for name in fixture_names() if fixture_meta(name).get("compile") == "ok"]


MANAGE_PY = """
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
"""


def test_commands_root_project() -> None:
    plan = analyze(FIXTURES / "tutorial")
    assert process_commands(plan) == Commands(
        web="channels-buildpack web mysite.asgi:application",
        worker="",
        release="channels-buildpack migrate",
    )


def test_commands_subfolder_project() -> None:
    plan = analyze(FIXTURES / "pipfile_subdir")
    assert process_commands(plan) == Commands(
        web="channels-buildpack web core.asgi:application --chdir backend",
        worker="",
        release="channels-buildpack migrate --chdir backend",
    )


def test_commands_background_worker() -> None:
    plan = analyze(FIXTURES / "background_channels")
    commands = process_commands(plan)
    assert commands.worker == "channels-buildpack worker bgproj.asgi:application"
    assert commands.web == "channels-buildpack web bgproj.asgi:application"


def test_commands_plain_django_gunicorn() -> None:
    plan = analyze(FIXTURES / "plain_django")
    assert process_commands(plan) == Commands(
        web="gunicorn plainsite.wsgi:application",
        worker="",
        release="channels-buildpack migrate",
    )


def test_commands_gunicorn_subfolder(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "Django\n",
            "web/manage.py": MANAGE_PY,
            "web/proj/__init__.py": "",
            "web/proj/settings.py": 'WSGI_APPLICATION = "proj.wsgi.application"\n',
        },
    )
    commands = process_commands(analyze(tmp_path))
    assert commands == Commands(web="gunicorn --chdir web proj.wsgi:application")


def test_no_release_without_a_database(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "Django\nchannels\n",
            "manage.py": MANAGE_PY,
            "proj/__init__.py": "",
            "proj/settings.py": 'INSTALLED_APPS = ["channels"]\n',
            "proj/asgi.py": "from channels.routing import ProtocolTypeRouter\n"
            "application = ProtocolTypeRouter({})\n",
        },
    )
    plan = analyze(tmp_path)
    assert plan.uses_database is False
    assert process_commands(plan).release == ""
    assert "release" not in plan.procfile.processes
    # A DATABASE_URL config var alone is enough to migrate.
    plan = analyze(tmp_path, {"DATABASE_URL": "postgres://u:p@h:5432/d"})
    assert process_commands(plan).release == "channels-buildpack migrate"


def test_commands_need_an_app_path() -> None:
    with pytest.raises(AssertionError):
        process_commands(Plan(kind="channels", reason=""))


@pytest.mark.parametrize("name", PLANNED)
def test_generated_commands_are_plain(name: str) -> None:
    plan = analyze(FIXTURES / name)
    commands = process_commands(plan)
    assert commands.web
    for command in (commands.web, commands.worker, commands.release):
        for forbidden in ("&&", ";", "|", "'", '"', "\n", "`", "$("):
            assert forbidden not in command, (name, command)
        assert "/tmp" not in command and str(FIXTURES) not in command


# =============================================================================================
# the generated ASGI module
# =============================================================================================


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def test_generated_asgi_for_stock_asgi_routing() -> None:
    plan = analyze(FIXTURES / "stock_asgi_routing")
    source = asgi_module_source(plan)
    tree = ast.parse(source)
    compile(source, "channels_buildpack_asgi.py", "exec")
    assert MARKER in source[:4096]
    assert 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockproj.settings")' in source
    django_app = "from stockproj.asgi import application as django_asgi_app"
    chat = "from chat.routing import websocket_urlpatterns as websocket_routes_0"
    notify = "from notifications.routing import websocket_urlpatterns as websocket_routes_1"
    for line in (django_app, chat, notify):
        assert line in source
    # Django is set up (by the stock asgi module) before the routes import consumers/models.
    assert source.index(django_app) < source.index(chat) < source.index(notify)
    flat = re.sub(r"\s+", "", source)
    assert (
        "AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(["
        "*websocket_routes_0,*websocket_routes_1]))"
    ) in flat
    assert '"http":django_asgi_app' in flat
    assert len(_calls(tree, "ProtocolTypeRouter")) == 1
    assert "stockproj/asgi.py, Django's stock one" in source
    assert str(FIXTURES) not in source


def test_generated_asgi_for_missing_asgi_with_routes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "Django\nchannels\n",
            "manage.py": MANAGE_PY,
            "proj/__init__.py": "",
            "proj/settings.py": 'INSTALLED_APPS = ["channels", "chat"]\n',
            "chat/__init__.py": "",
            "chat/routing.py": "websocket_urlpatterns = [path('ws/', C.as_asgi())]\n",
        },
    )
    plan = analyze(tmp_path)
    assert plan.asgi is not None and plan.asgi.kind == "missing"
    source = asgi_module_source(plan)
    compile(source, "channels_buildpack_asgi.py", "exec")
    assert "django_asgi_app = get_asgi_application()" in source
    assert "none found" in source
    assert "chat.routing" in source
    assert 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")' in source


def test_generated_asgi_http_only_without_asgi_and_routes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": "Django\nchannels\n",
            "manage.py": MANAGE_PY,
            "proj/__init__.py": "",
            "proj/settings.py": 'INSTALLED_APPS = ["channels"]\n',
        },
    )
    plan = analyze(tmp_path)
    assert plan.asgi is not None
    assert plan.asgi.kind == "missing"
    assert plan.asgi.websocket_modules == []
    assert plan.asgi.generated == "channels_buildpack_asgi.py"
    source = asgi_module_source(plan)
    compile(source, "channels_buildpack_asgi.py", "exec")
    assert MARKER in source
    assert "application = get_asgi_application()" in source
    assert 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")' in source
    assert "ProtocolTypeRouter" not in source
    assert "websocket" not in source.lower().split('"""', 2)[2]


def test_write_generated_asgi(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "stock_asgi_routing", app)
    plan = analyze(app)
    target = write_generated_asgi(plan, app)
    assert target == app / "channels_buildpack_asgi.py"
    assert target.read_text(encoding="utf-8") == asgi_module_source(plan)
    assert is_generated_file(target)
    # A rebuild replaces our own file ...
    target.write_text(f"# {MARKER}\nold = 1\n", encoding="utf-8")
    assert write_generated_asgi(plan, app) == target
    assert "old = 1" not in target.read_text(encoding="utf-8")
    # ... but never a user's file of the same name.
    target.write_text("application = None\n", encoding="utf-8")
    with pytest.raises(FileExistsError):
        write_generated_asgi(plan, app)
    assert target.read_text(encoding="utf-8") == "application = None\n"


def test_write_generated_asgi_not_needed() -> None:
    plan = analyze(FIXTURES / "tutorial")
    assert write_generated_asgi(plan, FIXTURES / "tutorial") is None
    assert write_generated_asgi(analyze(FIXTURES / "plain_django"), FIXTURES / "x") is None


def test_generated_asgi_module_imports_and_routes(tmp_path: Path) -> None:
    """The generated module really imports (Django and Channels from the dev env)."""
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "stock_asgi_routing", app)
    write_generated_asgi(analyze(app), app)
    code = (
        "import channels_buildpack_asgi as m\n"
        "from channels.routing import ProtocolTypeRouter\n"
        "assert isinstance(m.application, ProtocolTypeRouter)\n"
        "print(sorted(m.application.application_mapping))\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
    }
    env["CHANNELS_BUILDPACK_SETTINGS"] = "off"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['http', 'websocket']\n"


def test_is_generated_file(tmp_path: Path) -> None:
    near = tmp_path / "near.py"
    near.write_text(f'"""{MARKER}"""\n', encoding="utf-8")
    far = tmp_path / "far.py"
    far.write_text("#" * 5000 + f"\n# {MARKER}\n", encoding="utf-8")
    assert is_generated_file(near) is True
    assert is_generated_file(far) is False
    assert is_generated_file(tmp_path / "missing.py") is False
    assert generated_module_name() == "channels_buildpack_asgi"


def test_profile_script_only_sets_defaults() -> None:
    script = profile_script()
    assert PROFILE_SCRIPT == ".profile.d/channels-buildpack.sh"
    lines = [line for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert lines
    for line in lines:
        match = re.fullmatch(r'export ([A-Z_]+)="\$\{([A-Z_]+):-[^}]*\}"', line)
        assert match, line
        assert match.group(1) == match.group(2)
    assert 'export CHANNELS_BUILDPACK_SETTINGS="${CHANNELS_BUILDPACK_SETTINGS:-on}"' in lines
    assert "/tmp" not in script and "build_" not in script
    result = subprocess.run(
        ["bash", "-c", script + '\necho "$CHANNELS_BUILDPACK_SETTINGS"'],
        env={"PATH": "/usr/bin:/bin", "CHANNELS_BUILDPACK_SETTINGS": "off"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "off\n"  # a config var always wins
