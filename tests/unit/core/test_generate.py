"""Unit tests for what the build writes: ``generate``, ``release``, ``install`` helpers,
``envdir`` and ``pins``.

Fast and local: plans come from static analysis of fixture apps (or small apps in
``tmp_path``); the app's Python is emulated with files and symlinks in ``tmp_path``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from buildpack.core import pins
from buildpack.core.analysis import analyze
from buildpack.core.build import STATE_FILE
from buildpack.core.envdir import MAX_VALUE_BYTES, read_env_dir
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
from buildpack.core.install import classic as classic_install
from buildpack.core.install import runner, runtime_package
from buildpack.core.install.classic import find_app_python, relocate_scripts
from buildpack.core.install.runner import AppPython
from buildpack.core.plan import Plan
from buildpack.core.procfile import Commands
from buildpack.platforms.classic import REDIS_ADDON, release_yaml
from tests.support.paths import FIXTURES, REPO

PLANNED = sorted(
    path.parent.name
    for path in FIXTURES.glob("*/fixture.json")
    if json.loads(path.read_text(encoding="utf-8")).get("compile") == "ok"
)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


MANAGE_PY = """
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
"""


# =============================================================================================
# process commands
# =============================================================================================


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


# =============================================================================================
# release
# =============================================================================================


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


# =============================================================================================
# install helpers
# =============================================================================================


def _app_python(build_dir: Path) -> Path:
    bin_dir = build_dir / ".heroku" / "python" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text("#!/bin/sh\n", encoding="utf-8")
    python.chmod(0o755)
    return python


def _runtime_link(runtime_root: Path, build_dir: Path) -> Path:
    """Emulate heroku/python's ``/app/.heroku/python -> BUILD_DIR/.heroku/python`` link."""
    link = runtime_root / ".heroku" / "python"
    link.parent.mkdir(parents=True)
    link.symlink_to(build_dir / ".heroku" / "python", target_is_directory=True)
    return link / "bin" / "python"


@pytest.fixture(autouse=True)
def _no_real_app_link(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The machine running the tests might have a real /app/.heroku/python.
    monkeypatch.setattr(
        classic_install, "RUNTIME_PYTHON_LINKS", (str(tmp_path / "none" / "python"),)
    )


def test_find_app_python_missing(tmp_path: Path) -> None:
    assert find_app_python(tmp_path, "/usr/bin:/bin") is None


def test_find_app_python_prefers_runtime_path_on_path(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    runtime_python = _runtime_link(tmp_path / "app", build)
    path_env = os.pathsep.join(
        ["", "/usr/bin", str(build_python.parent), str(runtime_python.parent), "/bin"]
    )
    app = find_app_python(build, path_env)
    assert app == AppPython(build_python, str(runtime_python), True)
    assert app.prefix == build / ".heroku" / "python"


def test_find_app_python_builtin_runtime_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    runtime_python = _runtime_link(tmp_path / "app", build)
    monkeypatch.setattr(classic_install, "RUNTIME_PYTHON_LINKS", (str(runtime_python),))
    assert find_app_python(build, None) == AppPython(build_python, str(runtime_python), True)


def test_find_app_python_falls_back_to_build_path(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    # Another Python on PATH, and the build's own bin: neither is a run-time path.
    other = _app_python(tmp_path / "other")
    path_env = os.pathsep.join([str(other.parent), str(build_python.parent)])
    app = find_app_python(build, path_env)
    assert app == AppPython(build_python, str(build_python), False)
    assert find_app_python(build, None) == AppPython(build_python, str(build_python), False)


def test_find_app_python_runtime_dir_sharing_a_name_prefix(tmp_path: Path) -> None:
    # /tmp/x/build and /tmp/x/build-runtime: a string prefix, not a parent directory.
    build = tmp_path / "build"
    build_python = _app_python(build)
    runtime_python = _runtime_link(tmp_path / "build-runtime", build)
    app = find_app_python(build, str(runtime_python.parent))
    assert app == AppPython(build_python, str(runtime_python), True)


def test_find_app_python_build_dir_reached_through_a_symlink(tmp_path: Path) -> None:
    # BUILD_DIR given through a symlink (like /tmp -> /private/tmp): its own bin on PATH is
    # still the build path, not a run-time one.
    real = tmp_path / "real"
    _app_python(real)
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    build_python = alias / ".heroku" / "python" / "bin" / "python"
    app = find_app_python(alias, str(build_python.parent))
    assert app == AppPython(build_python, str(build_python), False)


def _script(path: Path, shebang: str, body: str = "import sys\nprint(sys.argv)\n") -> Path:
    path.write_text(f"#!{shebang}\n{body}", encoding="utf-8")
    return path


def test_relocate_scripts(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build_python = _app_python(build)
    app = AppPython(build_python, str(build_python), False)
    bin_dir = build_python.parent
    body = "# -*- coding: utf-8 -*-\nfrom buildpack.cli import main\nmain()\n"
    ours = _script(bin_dir / "channels-buildpack", str(build_python), body)
    versioned = _script(bin_dir / "tool-a", f"{build_python}3.12 -E", body)
    runtime = _script(bin_dir / "tool-b", "/app/.heroku/python/bin/python", body)
    not_listed = _script(bin_dir / "tool-c", str(build_python), body)
    relocate_scripts(app, ["channels-buildpack", "tool-a", "tool-b", "missing"])
    assert ours.read_text(encoding="utf-8") == "#!/usr/bin/env python3\n" + body
    assert versioned.read_text(encoding="utf-8") == "#!/usr/bin/env python3\n" + body
    assert runtime.read_text(encoding="utf-8") == "#!/app/.heroku/python/bin/python\n" + body
    assert not_listed.read_text(encoding="utf-8") == f"#!{build_python}\n" + body


def test_relocate_scripts_ignores_non_shebang_mentions(tmp_path: Path) -> None:
    build_python = _app_python(tmp_path / "build")
    script = build_python.parent / "tool"
    text = f"# made by {build_python}\nprint(1)\n"
    script.write_text(text, encoding="utf-8")
    relocate_scripts(AppPython(build_python, str(build_python), False), ["tool"])
    assert script.read_text(encoding="utf-8") == text


def test_python_version(tmp_path: Path) -> None:
    current = AppPython(Path(sys.executable), sys.executable, True)
    assert runner.python_version(current) == tuple(sys.version_info[:3])
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 3 12 7\n", encoding="utf-8")
    fake.chmod(0o755)
    assert runner.python_version(AppPython(fake, str(fake), False)) == (3, 12, 7)


def test_pip_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/buildpack")
    env = runner.pip_env(
        tmp_path / "cache",
        {"PIP_INDEX_URL": "https://mirror/simple", "PIP_FIND_LINKS": "", "SECRET_KEY": "s"},
    )
    assert env["PIP_CACHE_DIR"] == str(tmp_path / "cache" / "channels-buildpack" / "pip")
    assert env["PIP_INDEX_URL"] == "https://mirror/simple"
    assert env["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    assert env["PIP_NO_INPUT"] == "1"
    assert "PYTHONPATH" not in env
    assert "SECRET_KEY" not in env
    assert env.get("PIP_FIND_LINKS") == os.environ.get("PIP_FIND_LINKS")


# =============================================================================================
# envdir
# =============================================================================================


def test_read_env_dir(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "REDIS_URL").write_text("rediss://:pw@h:6379\n", encoding="utf-8")
    (env_dir / "DJANGO_SETTINGS_MODULE").write_text("proj.settings", encoding="utf-8")
    (env_dir / "EMPTY").write_text("", encoding="utf-8")
    (env_dir / "BAD-NAME").write_text("x", encoding="utf-8")
    (env_dir / "1STARTS_WITH_DIGIT").write_text("x", encoding="utf-8")
    (env_dir / "HUGE").write_text("x" * (MAX_VALUE_BYTES + 1), encoding="utf-8")
    (env_dir / "SUBDIR").mkdir()
    values = read_env_dir(env_dir)
    assert values == {
        "DJANGO_SETTINGS_MODULE": "proj.settings",
        "EMPTY": "",
        "REDIS_URL": "rediss://:pw@h:6379\n",  # kept exactly
    }
    assert list(values) == sorted(values)


def test_read_env_dir_missing(tmp_path: Path) -> None:
    assert read_env_dir(None) == {}
    assert read_env_dir(tmp_path / "missing") == {}
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert read_env_dir(tmp_path / "file") == {}


# =============================================================================================
# pins
# =============================================================================================


def test_pins_format() -> None:
    for name, runs in pins.PINS.items():
        assert runs, name
        floors = [tuple(int(p) for p in python.split(".")) for _, python in runs]
        assert floors == sorted(floors, reverse=True), name  # newest Python first
        assert floors[-1] == (3, 10), name  # every Python we support gets a pin
        for version, _ in runs:
            assert re.fullmatch(r"\d+\.\d+(\.\d+)?", version), name  # websockets: 17.4
        assert pins.pinned(name) == f"{name}=={pins.version(name)}"
        major, minor = runs[0][0].split(".")[:2]
        assert pins.minimum(name) == f"{name}>={major}.{minor}"
    assert pins.pinned("channels-redis").startswith("channels-redis==4.")
    assert pins.minimum("daphne").startswith("daphne>=4.")


def test_a_pin_is_chosen_by_the_python_it_installs_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(pins.PINS, "example", (("3.0", "3.12"), ("2.0", "3.11"), ("1.0", "3.10")))
    assert [pins.version("example", (3, minor)) for minor in (10, 11, 12, 14)] == [
        "1.0",
        "2.0",
        "3.0",
        "3.0",
    ]
    assert pins.pinned("example", (3, 11, 4)) == "example==2.0"
    assert pins.version("example") == pins.version("example", sys.version_info[:2])
    assert pins.minimum("example") == "example>=3.0"


def test_every_required_package_is_pinned() -> None:
    assert set(pins.REQUIRED) == {"channels", "django"}
    assert pins.REQUIRED["channels"] == ("channels", "daphne", "channels-redis")
    assert pins.REQUIRED["django"] == ("gunicorn",)
    runtime = [
        runtime_package.project_name(r) for r in (*runtime_package.runtime_dependencies(), "tomli")
    ]
    optional = [runtime_package.project_name(r) for r in runtime_package.OPTIONAL_DEPENDENCIES]
    for names in [*pins.REQUIRED.values(), *pins.ENGINE_PACKAGES.values(), runtime, optional]:
        for name in names:
            assert name in pins.PINS


def test_the_uvicorn_engine_chosen_at_build_time_adds_its_packages() -> None:
    channels = ("channels", "daphne", "channels-redis")
    assert pins.required(True, {}) == channels
    assert pins.required(True, {"CHANNELS_WEB_SERVER": "daphne"}) == channels
    uvicorn = {"CHANNELS_WEB_SERVER": " Uvicorn "}
    assert pins.required(True, uvicorn) == (*channels, "uvicorn", "httptools", "websockets")
    assert pins.required(False, uvicorn) == ("gunicorn",)


def test_the_websockets_pin_still_installs_on_python_3_10() -> None:
    # websockets 17 requires Python 3.11: Python 3.10 apps get the last 16.x
    assert pins.version("websockets", (3, 10)).split(".")[0] == "16"


def test_missing_runtime_packages_are_installed_at_their_pins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_package, "satisfied", lambda requirement: False)
    assert runtime_package.missing_runtime_dependencies() == [
        pins.pinned(runtime_package.project_name(r)) for r in runtime_package.runtime_dependencies()
    ]
    assert runtime_package.missing_optional_dependencies() == [pins.pinned("uvloop")]
    assert runtime_package.from_binary_wheels([pins.pinned("uvloop")]) == [
        "--only-binary",
        "uvloop",
        pins.pinned("uvloop"),
    ]


def test_runtime_dependencies_mirror_pyproject() -> None:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from buildpack.core.install.runtime_package import (
        OPTIONAL_DEPENDENCIES,
        RUNTIME_DEPENDENCIES,
        TOMLI,
    )

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    expected = [*RUNTIME_DEPENDENCIES, *OPTIONAL_DEPENDENCIES, f"{TOMLI}; python_version < '3.11'"]
    assert declared == expected


@pytest.mark.parametrize(
    ("version", "release"),
    [("23.2.post1", (23, 2)), ("2.1", (2, 1)), ("24", (24,)), ("1.0rc1", (1, 0)), ("", ())],
)
def test_release_numbers_of_a_version(version: str, release: tuple[int, ...]) -> None:
    assert runtime_package.release_numbers(version) == release


def test_runtime_dependency_check_honours_the_minimum_version() -> None:
    assert runtime_package.satisfied("packaging>=23")
    assert not runtime_package.satisfied("packaging>=999")  # installed, but older than we need
    assert not runtime_package.satisfied("no-such-distribution-here>=1")
    assert runtime_package.missing_runtime_dependencies() == []  # this venv has all of them
