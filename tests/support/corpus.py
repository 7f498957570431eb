"""Broken and hostile repositories, generated at test time (FIFOs, symlinks out, odd names and
huge trees cannot live in git). Each :class:`~tests.support.hostile.Case` writes one
repository; :mod:`tests.test_hostile` runs them all through every build step.

This module holds the building blocks and the dependency-file, settings and ASGI cases;
:mod:`tests.support.corpus_tree` the Procfile, generated-file, tree, ENV_DIR and canary ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.hostile import Case, Dirs
from tests.support.sample_app import ASGI, SETTINGS, app, write

TOO_COMPLEX = "Cannot analyse"


def fifo(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)


def link(path: Path, target: str | Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def canary(dirs: Dirs, name: str) -> str:
    """Module source that records *name* in the canary directory when it is imported."""
    return f"open({str(dirs.canary / name)!r}, 'w').write('imported')\n"


def _settings(extra: str) -> str:
    return SETTINGS + extra


# -- dependency files ------------------------------------------------------------------------


def _req_fifo(d: Dirs) -> None:
    app(d.build, {"requirements.txt": None})
    fifo(d.build / "requirements.txt")


def _req_dir(d: Dirs) -> None:
    app(d.build, {"requirements.txt": None})
    (d.build / "requirements.txt").mkdir()
    write(d.build, {"requirements.txt/x": "django\n", "Pipfile": "[packages\n"})


def _req_huge(d: Dirs) -> None:
    app(d.build, {"requirements.txt": "channels\n" + "# padding\n" * 600_000})


def _req_binary(d: Dirs) -> None:
    app(d.build, {"requirements.txt": b"\xff\xfe\x00django\x00\n\x80channels==\xc3\x28\n" * 500})


def _req_includes(d: Dirs) -> None:
    app(d.build)
    write(
        d.build,
        {
            "requirements.txt": "-r requirements.txt\n-r /dev/zero\n-c pipe.txt\n-r loop.txt\n"
            "-r ../outside/secret.txt\n-e ./loopdir\n-r " + "x/" * 2000 + "r.txt\nchannels\n",
        },
    )
    fifo(d.build / "pipe.txt")
    link(d.build / "loop.txt", "loop.txt")
    link(d.build / "loopdir", "loopdir")


def _req_markers(d: Dirs) -> None:
    deep = "(" * 5000 + 'os_name == "posix"' + ")" * 5000
    lines = [f"django; {deep}", "channels[" + "x," * 50_000 + "]", "a" * 200_000, "-e"]
    app(d.build, {"requirements.txt": "\n".join(lines) + "\n"})


def _pyproject_deep(d: Dirs) -> None:
    app(d.build, {"requirements.txt": None})
    write(d.build, {"pyproject.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n"})
    write(d.build, {"uv.lock": "[[package]]\nname = " + "{a = " * 50_000 + "1" + "}" * 50_000})


def _pyproject_types(d: Dirs) -> None:
    app(d.build)
    text = (
        '[project]\nname = 5\ndependencies = "channels"\n[tool]\npoetry = "x"\n'
        "[tool.uv]\npackage = []\n[project.optional-dependencies]\nx = 1\n"
    )
    write(d.build, {"pyproject.toml": text, "poetry.lock": "package = 'x'\n"})


def _pipfile_deep(d: Dirs) -> None:
    app(d.build, {"requirements.txt": None})
    write(
        d.build,
        {
            "Pipfile": '[packages]\nchannels = {version = "*", markers = "' + "(" * 3000 + '"}\n',
            "Pipfile.lock": "[" * 200_000 + "]" * 200_000,
        },
    )


def _setup_files(d: Dirs) -> None:
    app(d.build, {"requirements.txt": None})
    write(
        d.build,
        {
            "setup.py": "from setuptools import setup\nsetup(install_requires=["
            + "+".join(['"a"'] * 100_000)
            + "])\n"
            + canary(d, "setup_py"),
            "setup.cfg": "[options\ninstall_requires =\n  channels\n" + "%(x)s\n" * 1000,
        },
    )


# -- settings ----------------------------------------------------------------------------------


def _settings_long_expression(d: Dirs) -> None:
    app(d.build, {"proj/settings.py": _settings("X = " + "+".join(["1"] * 100_000) + "\n")})


def _settings_deep_nesting(d: Dirs) -> None:
    nested = "X = " + "[" * 300 + "]" * 300 + "\n"
    blocks = "".join("    " * i + "if a:\n" for i in range(120)) + "    " * 120 + "pass\n"
    app(d.build, {"proj/settings.py": _settings(nested + blocks)})


def _settings_conditional_chain(d: Dirs) -> None:
    chain = "X = " + " if a else ".join(["1"] * 100_000) + "\n"
    app(d.build, {"proj/settings.py": _settings(chain)})


def _settings_doubling(d: Dirs) -> None:
    lines = ['X = ["channels_redis.core.RedisChannelLayer"]', 'L = ["a"]', 'S = "s"']
    lines += ["X = [X, X]", "L = L + L", "S = S + S", "L.extend(L)"] * 64
    lines += ['CHANNEL_LAYERS = {"default": {"BACKEND": X, "CONFIG": X}}', "INSTALLED_APPS += L"]
    lines += ["DATABASES = {'default': {'ENGINE': S}}", "INSTALLED_APPS.remove(X)"]
    app(d.build, {"proj/settings.py": _settings("\n".join(lines) + "\n")})


def _settings_candidates(d: Dirs) -> None:
    lines = ["if a:\n    A = [1]\nelse:\n    A = [2]"] + ["A += A"] * 40
    lines += ["INSTALLED_APPS += A", "CHANNEL_LAYERS = " + " or ".join(["A"] * 5000)]
    app(d.build, {"proj/settings.py": _settings("\n".join(lines) + "\n")})


def _settings_many_branches(d: Dirs) -> None:
    names = "".join(f"N{i} = {i}\n" for i in range(20_000))
    app(d.build, {"proj/settings.py": _settings(names + "if a:\n    pass\n" * 20_000)})


def _settings_special(d: Dirs) -> None:
    app(d.build, {"proj/settings.py": None})
    fifo(d.build / "proj" / "settings.py")


def _settings_bytes(d: Dirs) -> None:
    app(d.build, {"proj/settings.py": b"SECRET_KEY = 'x'\x00\nX = '\xff\xfe'\n"})


def _settings_encoding(d: Dirs) -> None:
    write(d.build, {"proj/base.py": "# -*- coding: bogus -*-\nX = 1\n"})
    utf16 = ("\ufeff" + SETTINGS + "from .base import *\n").encode("utf-16")
    app(d.build, {"proj/settings.py": utf16})


def _settings_unhashable(d: Dirs) -> None:
    extra = "X = {[1]: 2, (1, [2]): 3}\nCHANNEL_LAYERS = {[]: {'BACKEND': 1}, 'default': X}\n"
    app(d.build, {"proj/settings.py": _settings(extra + "DATABASES = {{}: 1}\n")})


def _settings_imports(d: Dirs) -> None:
    star = "from .settings import *\nfrom proj.base import *\n" * 5000
    write(d.build, {"proj/base.py": "from proj.settings import *\n" + "from .base import *\n" * 50})
    app(d.build, {"proj/settings.py": _settings(star)})


def _settings_loop(d: Dirs) -> None:
    app(d.build, {"proj/settings.py": None})
    link(d.build / "proj" / "settings.py", "settings.py")


def _settings_huge(d: Dirs) -> None:
    app(d.build, {"proj/settings.py": _settings("# padding\n" * 300_000)})


# -- ASGI modules and routing ------------------------------------------------------------------


def _asgi_special(d: Dirs) -> None:
    # No ASGI_APPLICATION: the missing asgi.py makes the build scan the tree for routes.
    settings = SETTINGS.replace('ASGI_APPLICATION = "proj.asgi.application"\n', "")
    app(d.build, {"proj/asgi.py": None, "proj/settings.py": settings})
    fifo(d.build / "proj" / "asgi.py")
    fifo(d.build / "chat" / "routing.py")
    write(d.build, {"chat/__init__.py": "", "chat/consumers.py": "websocket_urlpatterns = []\n"})
    (d.build / "chat" / "views.py").mkdir()


def _asgi_complex(d: Dirs) -> None:
    deep = "application = " + "+".join(["x"] * 100_000) + "\n"
    app(d.build, {"proj/asgi.py": deep})


def _asgi_imports(d: Dirs) -> None:
    imports = "".join(f"import mod{i}\nfrom mod{i} import *\n" for i in range(2000))
    files: dict[str, str | bytes] = {
        f"mod{i}.py": f"import mod{(i + 1) % 2000}\n" for i in range(2000)
    }
    write(d.build, files)
    app(d.build, {"proj/asgi.py": ASGI + imports})


def _routing_many(d: Dirs) -> None:
    route = "websocket_urlpatterns = [" + "path('x', c), " * 20 + "]\n"
    files: dict[str, str | bytes] = {f"r{i}/routing.py": route for i in range(300)}
    files.update({f"r{i}/__init__.py": "" for i in range(300)})
    write(d.build, files)
    app(d.build, {"proj/asgi.py": ASGI.replace("ProtocolTypeRouter(", "stock(")})


def _asgi_injection(d: Dirs) -> None:
    extra = 'ASGI_APPLICATION = "proj.asgi.application\\nrelease: touch /tmp/owned"\n'
    app(d.build, {"proj/settings.py": _settings(extra)})


CASES = [
    Case("requirements-fifo", _req_fifo),
    Case("requirements-directory", _req_dir),
    Case("requirements-huge", _req_huge),
    Case("requirements-binary", _req_binary),
    Case("requirements-hostile-includes", _req_includes),
    Case("requirements-hostile-markers", _req_markers),
    Case("pyproject-deeply-nested", _pyproject_deep),
    Case("pyproject-wrong-types", _pyproject_types),
    Case("pipfile-deeply-nested", _pipfile_deep),
    Case("setup-py-long-expression", _setup_files),
    Case(
        "settings-100000-term-expression", _settings_long_expression, compile_rc=1, says=TOO_COMPLEX
    ),
    Case("settings-deep-nesting", _settings_deep_nesting, compile_rc=1),
    Case("settings-100000-conditionals", _settings_conditional_chain, compile_rc=1),
    Case("settings-doubling-values", _settings_doubling, compile_rc=0),
    Case("settings-candidate-explosion", _settings_candidates, compile_rc=0),
    Case("settings-20000-branches", _settings_many_branches),
    Case("settings-fifo", _settings_special, compile_rc=1),
    Case("settings-nul-bytes", _settings_bytes, compile_rc=1),
    Case("settings-encodings", _settings_encoding),
    Case("settings-unhashable-keys", _settings_unhashable, compile_rc=0),
    Case("settings-import-loops", _settings_imports),
    Case("settings-symlink-loop", _settings_loop, compile_rc=1),
    Case("settings-over-2mb", _settings_huge, compile_rc=1),
    Case("asgi-and-routing-fifos", _asgi_special),
    Case("asgi-100000-term-expression", _asgi_complex, compile_rc=1, says=TOO_COMPLEX),
    Case("asgi-import-web", _asgi_imports, compile_rc=0),
    Case("routing-300-modules", _routing_many, compile_rc=0),
    Case("asgi-application-newline", _asgi_injection, compile_rc=1, says="Procfile line"),
]
