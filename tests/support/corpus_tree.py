"""More hostile repositories: Procfiles, the files the build writes, trees and names, ENV_DIR
config vars, and code-execution canaries (see :mod:`tests.support.corpus`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.corpus import canary, fifo, link
from tests.support.hostile import Case, Dirs
from tests.support.paths import FIXTURES
from tests.support.sample_app import ASGI, MANAGE_PY, app, write

REFUSED = "Refusing to write"
UNUSABLE_PROCFILE = "Cannot use your Procfile"
# Modules our build processes (and pip) import after start-up, and packages we depend on:
# with the repository on sys.path, each of these files would run instead.
CANARY_MODULES = (
    "argparse", "ast", "base64", "configparser", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "email", "ensurepip", "enum", "fnmatch", "glob", "hashlib", "http", "inspect",
    "json", "logging", "pathlib", "platform", "pprint", "random", "selectors", "shlex", "shutil",
    "signal", "socket", "ssl", "string", "struct", "subprocess", "tempfile", "textwrap",
    "threading", "tokenize", "tomllib", "traceback", "typing", "urllib", "uuid", "warnings",
    "zipfile", "sitecustomize", "usercustomize", "buildpack", "packaging", "tomli", "pip",
    "setuptools", "dj_database_url", "django", "channels",
)  # fmt: skip


def plant_canaries(d: Dirs, where: Path) -> None:
    """One canary per name: a module file for half of them, a package for the others."""
    for index, name in enumerate(CANARY_MODULES):
        source = canary(d, f"{where.name}-{name}")
        if index % 2:
            write(where, {f"{name}.py": source})
        else:
            write(where, {f"{name}/__init__.py": source, f"{name}/__main__.py": source})
    write(where, {"evil.pth": "import os; " + canary(d, "pth").strip() + "\n"})


# -- Procfiles ----------------------------------------------------------------------------------


def _procfile_dangling(d: Dirs) -> None:
    app(d.build)
    link(d.build / "Procfile", d.outside / "Procfile")


def _procfile_directory(d: Dirs) -> None:
    app(d.build)
    write(d.build, {"Procfile/web": "web: daphne proj.asgi:application\n"})


def _procfile_fifo(d: Dirs) -> None:
    app(d.build)
    fifo(d.build / "Procfile")


def _procfile_outside_file(d: Dirs) -> None:
    app(d.build)
    link(d.build / "Procfile", d.outside / "secret.txt")


def _procfile_over_limit(d: Dirs) -> None:
    app(d.build, {"Procfile": "web: channels-buildpack web proj.asgi:application\n" * 8000})


def _procfile_garbage(d: Dirs) -> None:
    text = (
        b"\xef\xbb\xbfweb: daphne 'proj.asgi:application \x00\r\nworker:\xff\xfe" + b"x" * 100_000
    )
    app(d.build, {"Procfile": text + b"\nrelease: " + b"a && b | c ; " * 2000 + b"\n"})


def _procfile_channels1(d: Dirs) -> None:
    commands = "web: daphne proj.asgi:channel_layer\nworker: python manage.py runworker "
    app(d.build, {"Procfile": commands + "--only-channels=http.* --exclude-channels=x\n"})


# -- what the build writes ---------------------------------------------------------------------


def _profile_link(d: Dirs) -> None:
    app(d.build)
    link(d.build / ".profile.d", d.outside / "existing-dir")


def _profile_file(d: Dirs) -> None:
    app(d.build, {".profile.d": "not a directory\n"})


def _profile_script_dangling(d: Dirs) -> None:
    app(d.build)
    link(d.build / ".profile.d" / "channels-buildpack.sh", d.outside / "profile.sh")


def _state_link(d: Dirs) -> None:
    app(d.build)
    link(d.build / ".channels-buildpack", d.outside / "existing-dir")


def _state_fifo(d: Dirs) -> None:
    app(d.build)
    fifo(d.build / ".channels-buildpack" / "build.json")


def _state_garbage(d: Dirs) -> None:
    app(d.build, {"proj/settings.py": "INSTALLED_APPS = [\n"})
    write(d.build, {".channels-buildpack/build.json": "[" * 100_000, "Procfile": "web: x\n"})


def _stock_with_routes(d: Dirs) -> None:
    stock = ASGI.replace("ProtocolTypeRouter(", "dict(")
    app(d.build, {"proj/asgi.py": stock, "chat/__init__.py": ""})
    write(d.build, {"chat/routing.py": "websocket_urlpatterns = []\n"})


def _generated_dangling(d: Dirs) -> None:
    _stock_with_routes(d)
    link(d.build / "channels_buildpack_asgi.py", d.outside / "generated.py")


def _generated_hardlink(d: Dirs) -> None:
    _stock_with_routes(d)
    (d.outside / "generated.py").write_text("# channels-buildpack-generated, outside\n")
    os.link(d.outside / "generated.py", d.build / "channels_buildpack_asgi.py")


# -- trees and names ------------------------------------------------------------------------------


def _huge_tree(d: Dirs) -> None:
    for directory in range(200):
        write(d.build / f"pkg{directory}", {f"m{i}.py": "X = 1\n" for i in range(100)})
    app(d.build)


def _deep_tree(d: Dirs) -> None:
    app(d.build)
    deep = d.build / Path(*["d"] * 400)
    deep.mkdir(parents=True)
    write(deep, {"routing.py": "websocket_urlpatterns = []\n", "manage.py": MANAGE_PY})


def _loops(d: Dirs) -> None:
    app(d.build, {"requirements.txt": None})
    for name, target in (
        ("loop", "."), ("self", "self"), ("root", "/"), ("x.py", "x.py"), ("proj/up", ".."),
        ("devzero.py", "/dev/zero"), ("requirements.txt", "/dev/zero"),
        ("setup.cfg", "/proc/self/environ"),
    ):  # fmt: skip
        link(d.build / name, target)


def _odd_names(d: Dirs) -> None:
    app(d.build)
    for name in ("a\nb.py", "-rf.py", " .py", "ü.py", "x\x1b[31m.py", "CON.py", "a:b.py"):
        write(d.build / "proj", {name: "websocket_urlpatterns = []\n"})
    raw = os.fsencode(d.build / "proj") + b"/\xff\xfe.py"
    with open(raw, "wb") as handle:
        handle.write(b"websocket_urlpatterns = []\n")


def _project_dir_newline(d: Dirs) -> None:
    app(d.build / "site\nrelease: touch owned")


def _project_dir_bytes(d: Dirs) -> None:
    folder = os.fsdecode(b"\xffsite")
    app(d.build / folder)


def _empty(d: Dirs) -> None:
    del d


def _app_only(d: Dirs) -> None:
    app(d.build)


# -- config vars (ENV_DIR) ----------------------------------------------------------------------


def _malformed_env(env: Path) -> None:
    (env / "PIP_INDEX_URL").write_bytes(b"https://x\x00y")
    (env / "DJANGO_ALLOWED_HOSTS").write_bytes(b"\xff\xfe\x00")
    (env / "CHANNELS_BUILDPACK_REDIS_ADDON").write_text("x" * 300_000)
    os.mkfifo(env / "REDIS_URL")
    (env / "DATABASE_URL").mkdir()
    for name, target in (("SECRET", "/dev/zero"), ("LEAK", "/proc/self/environ"), ("LOOP", "LOOP")):
        (env / name).symlink_to(target)
    for name in ("1BAD", "A-B", "with space", "é"):
        (env / name).write_text("x")


def _long_settings_module(env: Path) -> None:
    (env / "DJANGO_SETTINGS_MODULE").write_text("a." * 3000 + "b")


def _stdlib_settings_module(env: Path) -> None:
    (env / "DJANGO_SETTINGS_MODULE").write_text("os.path\n")


# -- canaries -----------------------------------------------------------------------------------


def _canaries(d: Dirs) -> None:
    app(d.build)
    plant_canaries(d, d.build)


def _canaries_subdir(d: Dirs) -> None:
    app(d.build / "backend")
    plant_canaries(d, d.build)
    plant_canaries(d, d.build / "backend")
    write(d.build, {"requirements.txt": "channels\n", "setup.py": canary(d, "setup")})


def _canaries_not_django(d: Dirs) -> None:
    plant_canaries(d, d.build)
    write(d.build, {"app.py": canary(d, "app"), "requirements.txt": "flask\n"})


def _channels1_canaries(d: Dirs) -> None:
    shutil.copytree(FIXTURES / "channels1", d.build, dirs_exist_ok=True)
    (d.build / "fixture.json").unlink()
    plant_canaries(d, d.build)


CASES = [
    Case("procfile-dangling-symlink-out", _procfile_dangling, compile_rc=1, says=UNUSABLE_PROCFILE),
    Case("procfile-directory", _procfile_directory, compile_rc=1, says=UNUSABLE_PROCFILE),
    Case("procfile-fifo", _procfile_fifo, compile_rc=1, says=UNUSABLE_PROCFILE),
    Case("procfile-symlink-to-outside-file", _procfile_outside_file, compile_rc=0),
    Case("procfile-over-256kb", _procfile_over_limit, compile_rc=1, says=UNUSABLE_PROCFILE),
    Case("procfile-garbage", _procfile_garbage, compile_rc=0),
    Case("procfile-channels1-commands", _procfile_channels1, compile_rc=0, says="Channels 1"),
    Case("profile-d-symlink-out", _profile_link, compile_rc=1, says=REFUSED),
    Case("profile-d-is-a-file", _profile_file, compile_rc=1, says=REFUSED),
    Case("profile-script-dangling-out", _profile_script_dangling, compile_rc=1, says=REFUSED),
    Case("state-dir-symlink-out", _state_link, compile_rc=1, says=REFUSED),
    Case("state-file-fifo", _state_fifo, compile_rc=1, says=REFUSED),
    Case("state-file-garbage", _state_garbage, compile_rc=1),
    Case("generated-asgi-dangling-out", _generated_dangling, compile_rc=1, says=REFUSED),
    Case("generated-asgi-hard-link-out", _generated_hardlink, compile_rc=0),
    Case("tree-20000-files", _huge_tree, compile_rc=0),
    Case("tree-400-levels-deep", _deep_tree, compile_rc=0),
    Case("symlink-loops-and-devices", _loops),
    Case("odd-file-names", _odd_names, compile_rc=0),
    Case("project-dir-with-newline", _project_dir_newline, compile_rc=1, says="Procfile line"),
    Case("project-dir-not-utf8", _project_dir_bytes, compile_rc=1, says="Procfile line"),
    Case("empty-repository", _empty, compile_rc=1, detect_rc=1),
    Case(
        "env-dir-malformed", app_in_build := (lambda d: app(d.build)), _malformed_env, compile_rc=0
    ),
    Case("env-settings-module-too-long", app_in_build, _long_settings_module, compile_rc=1),
    Case("env-settings-module-stdlib", app_in_build, _stdlib_settings_module, compile_rc=1),
    Case("canaries-stdlib-named-modules", _canaries, compile_rc=0),
    Case("canaries-project-in-subdir", _canaries_subdir, compile_rc=0),
    Case("canaries-not-django", _canaries_not_django, detect_rc=1),
    Case("canaries-channels1-project", _channels1_canaries, compile_rc=1, says="Channels 1"),
]
