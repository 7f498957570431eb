"""Unit tests for ``buildpack.core.pysource``: files parsed, never imported; the module
index; imports, environment reads and the settings module found in the AST.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from buildpack.core.pysource import (
    MAX_SOURCE_BYTES,
    ModuleFile,
    ModuleIndex,
    SourceError,
    absolute_import,
    env_vars_read,
    parse_file,
    setdefault_settings_module,
)
from tests.support.projects import (
    index_of,
    write,
)


def test_parse_file_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("x = 1\ny = [\n", encoding="utf-8")
    with pytest.raises(SourceError) as info:
        parse_file(path, "proj/bad.py")
    assert info.value.path == "proj/bad.py"
    assert info.value.line == 2
    assert info.value.message.startswith("SyntaxError: ")
    assert str(info.value).startswith("proj/bad.py:2: SyntaxError: ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"x = 1\x00\n", "null bytes"),
        (None, "cannot read"),
        (b"#" * (MAX_SOURCE_BYTES + 1), "larger than 2 MB"),
    ],
    ids=["null-byte", "missing", "too-big"],
)
def test_parse_file_unreadable(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "x.py"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as info:
        parse_file(path, "x.py")
    assert info.value.line is None
    assert info.value.path == "x.py"
    assert expected in info.value.message


def test_module_index_find_and_names(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/settings/__init__.py": "",
            "proj/settings.py": "",  # shadowed by the package, as in Python
            "proj/asgi.py": "",
            "backend/app/routing.py": "",
        },
    )
    pkg = index.find("proj.settings")
    assert pkg == ModuleFile(
        "proj.settings", tmp_path.resolve() / "proj/settings/__init__.py", True
    )
    asgi = index.find("proj.asgi")
    assert asgi is not None and not asgi.is_package
    assert index.find("proj.missing") is None
    assert index.find("proj..asgi") is None
    assert index.find("proj.my-module") is None
    assert index.find("") is None
    assert index.display(asgi.path) == "proj/asgi.py"
    assert index.module_for_path(tmp_path / "proj/settings/__init__.py") == "proj.settings"
    assert index.module_for_path(tmp_path / "backend/app/routing.py") == "backend.app.routing"
    assert index.module_for_path(tmp_path.parent / "elsewhere.py") is None


def test_module_index_roots_in_order(tmp_path: Path) -> None:
    write(tmp_path, {"backend/core/settings.py": "A = 1\n", "core/settings.py": "A = 2\n"})
    index = ModuleIndex([tmp_path / "backend", tmp_path], tmp_path)
    found = index.find("core.settings")
    assert found is not None
    assert index.display(found.path) == "backend/core/settings.py"
    assert index.module_for_path(tmp_path / "backend/core/settings.py") == "core.settings"


def _import_node(source: str) -> ast.ImportFrom:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ImportFrom)
    return node


@pytest.mark.parametrize(
    ("current", "is_package", "source", "expected"),
    [
        ("config.settings", True, "from .base import *", "config.settings.base"),
        ("config.settings.production", False, "from .base import *", "config.settings.base"),
        ("config.settings.production", False, "from ..urls import x", "config.urls"),
        ("config.settings.production", False, "from . import base", "config.settings"),
        ("config.settings", False, "from .base import *", "config.base"),
        ("config.settings", False, "from config.base import *", "config.base"),
        ("settings", False, "from .base import *", None),  # no parent package
        ("config.settings", False, "from ..base import *", None),  # beyond top level
        ("config.settings.prod", False, "from ...base import *", None),
    ],
)
def test_absolute_import(current: str, is_package: bool, source: str, expected: str | None) -> None:
    module = ModuleFile(current, Path("x.py"), is_package)
    assert absolute_import(module, _import_node(source)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('os.environ.get("REDIS_URL")', ["REDIS_URL"]),
        ('os.getenv("A", "x") + os.environ["B"]', ["A", "B"]),
        ('environ["C"]', ["C"]),
        ('env("SECRET_KEY")', ["SECRET_KEY"]),
        ('env.bool("DEBUG", default=False)', ["DEBUG"]),
        ('config("D", cast=bool)', ["D"]),
        ("dj_database_url.config()", ["DATABASE_URL"]),
        ('dj_database_url.config(env="PG_URL", conn_max_age=600)', ["PG_URL"]),
        ("env.db()", ["DATABASE_URL"]),
        ('env.db("OTHER_DATABASE_URL")', ["OTHER_DATABASE_URL"]),
        ('env.db(var="X_URL")', ["X_URL"]),
        ('os.environ.get("A") or os.environ.get("A")', ["A"]),
        ('settings.get("NOT_ENV")', []),
        ("os.environ.get(name)", []),
    ],
)
def test_env_vars_read(source: str, expected: list[str]) -> None:
    assert env_vars_read(ast.parse(source)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "a.settings")', "a.settings"),
        ('os.environ["DJANGO_SETTINGS_MODULE"] = "b.settings"', "b.settings"),
        ('def main():\n    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "c.s")', "c.s"),
        ('os.environ.setdefault("OTHER", "x")', None),
        ('os.environ.setdefault("DJANGO_SETTINGS_MODULE", name)', None),
    ],
    ids=["setdefault", "assignment", "inside-main", "other-var", "not-a-literal"],
)
def test_setdefault_settings_module(source: str, expected: str | None) -> None:
    assert setdefault_settings_module(ast.parse(source)) == expected
