"""Unit tests for static analysis: pysource, settings_reader, asgi_scan, analysis, report.

Everything runs on files: fixture apps and small projects written to ``tmp_path``.
Nothing here imports or runs user code.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from buildpack import messages
from buildpack.core.analysis import analyze, describe_asgi
from buildpack.core.asgi_scan import (
    GENERATED_MODULE,
    classify,
    default_asgi_module,
    find_websocket_modules,
    locate,
    sibling_module,
    split_app_path,
)
from buildpack.core.plan import AsgiInfo, Plan, SettingsInfo
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
from buildpack.core.report import plan_rows, plan_text
from buildpack.core.settings_reader import SettingsNotFound, read_namespace, read_settings
from tests.support.apps import copy_fixture, fixture_meta, fixture_names
from tests.support.paths import FIXTURES
from tests.support.projects import (
    CHANNELS_ASGI,
    CHAT_ROUTING,
    STOCK_ASGI,
    index_of,
    manage_py,
    settings_of,
    write,
)

FIXTURE_META: dict[str, dict[str, Any]] = {name: fixture_meta(name) for name in fixture_names()}
PLANNED = {
    name: meta["expected_plan"] for name, meta in FIXTURE_META.items() if "expected_plan" in meta
}

REDIS = "channels_redis.core.RedisChannelLayer"
MEMORY = "channels.layers.InMemoryChannelLayer"
SQLITE = "django.db.backends.sqlite3"
POSTGRES = "django.db.backends.postgresql"


# =============================================================================================
# pysource
# =============================================================================================


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


# =============================================================================================
# settings_reader
# =============================================================================================


def test_literal_settings(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/settings.py": """
                INSTALLED_APPS = ["daphne", "django.contrib.staticfiles", "chat"]
                ASGI_APPLICATION = "proj.asgi.application"
                WSGI_APPLICATION = "proj.wsgi.application"
                SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
            """,
        },
    )
    assert info.module == "proj.settings"
    assert info.source == "manage.py"
    assert info.files == ["proj/settings.py"]
    assert info.installed_apps == ["daphne", "django.contrib.staticfiles", "chat"]
    assert info.asgi_application == "proj.asgi.application"
    assert info.wsgi_application == "proj.wsgi.application"
    assert info.secure_proxy_ssl_header is True
    assert info.channel_layers is None
    assert info.databases is None
    assert info.error is None


def test_unset_settings_are_none(tmp_path: Path) -> None:
    info = settings_of(tmp_path, {"proj/settings.py": "DEBUG = True\n"})
    assert info.installed_apps is None
    assert info.asgi_application is None
    assert info.secure_proxy_ssl_header is False


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('INSTALLED_APPS = ["a"]\nINSTALLED_APPS += ["b", "c"]', ["a", "b", "c"]),
        ('INSTALLED_APPS = ("a",)\nINSTALLED_APPS += ("b",)', ["a", "b"]),
        ('INSTALLED_APPS = ["a"]\nINSTALLED_APPS.append("b")', ["a", "b"]),
        ('INSTALLED_APPS = ["a", "b"]\nINSTALLED_APPS.insert(0, "daphne")', ["daphne", "a", "b"]),
        ('INSTALLED_APPS = ["a"]\nINSTALLED_APPS.extend(["b", "c"])', ["a", "b", "c"]),
        ('INSTALLED_APPS = ["a", "b"]\nINSTALLED_APPS.remove("a")', ["b"]),
        ('INSTALLED_APPS = ("a",)\nINSTALLED_APPS.append("b")', ["a", "b"]),
        ('BASE = ["a"]\nLOCAL = ["b"]\nINSTALLED_APPS = BASE + LOCAL + ["c"]', ["a", "b", "c"]),
        ('BASE = ["a", "b"]\nINSTALLED_APPS = ["daphne", *BASE, "c"]', ["daphne", "a", "b", "c"]),
        ('INSTALLED_APPS: list[str] = ["a"]', ["a"]),
        ('INSTALLED_APPS = [*unknown_call(), "a"]', ["a"]),
    ],
    ids=[
        "plus-equals",
        "tuple-plus-equals",
        "append",
        "insert",
        "extend",
        "remove",
        "tuple-append",
        "concatenation",
        "starred",
        "annotated",
        "starred-unknown",
    ],
)
def test_installed_apps_mutations(tmp_path: Path, source: str, expected: list[str]) -> None:
    info = settings_of(tmp_path, {"proj/settings.py": source + "\n"})
    assert info.installed_apps == expected


def test_if_else_branches_merge_candidates(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/settings.py": """
                import os

                REDIS_URL = os.environ.get("REDIS_URL")
                INSTALLED_APPS = ["chat"]
                if os.environ.get("DEBUG"):
                    INSTALLED_APPS += ["debug_toolbar"]

                if REDIS_URL:
                    CHANNEL_LAYERS = {
                        "default": {
                            "BACKEND": "channels_redis.core.RedisChannelLayer",
                            "CONFIG": {"hosts": [REDIS_URL]},
                        }
                    }
                else:
                    CHANNEL_LAYERS = {
                        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}
                    }
            """
        },
    )
    assert info.installed_apps == ["chat", "debug_toolbar"]
    layers = info.channel_layers
    assert layers is not None
    assert layers.backends == [REDIS, MEMORY]
    assert layers.reads_env is True
    assert layers.env_vars == ["REDIS_URL"]
    assert layers.dynamic is True


def test_if_without_else_keeps_the_previous_value(tmp_path: Path) -> None:
    ns, _ = read_namespace(
        index_of(tmp_path, {"proj/settings.py": 'A = "x"\nif cond:\n    A = "y"\nB = 1\n'}),
        "proj.settings",
    )
    assert [c.value for c in ns["A"]] == ["y", "x"]
    assert [c.line for c in ns["A"]] == [3, 1]
    assert [c.file for c in ns["A"]] == ["proj/settings.py", "proj/settings.py"]
    assert [c.value for c in ns["B"]] == [1]


def test_conditional_expression_of_module_level_names(tmp_path: Path) -> None:
    # The docstring's example: CHANNEL_LAYERS = redis if REDIS_URL else memory
    info = settings_of(
        tmp_path,
        {
            "proj/settings.py": """
                import os

                REDIS_URL = os.environ.get("REDIS_URL")
                redis = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                     "CONFIG": {"hosts": [REDIS_URL]}}}
                memory = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
                CHANNEL_LAYERS = redis if REDIS_URL else memory
            """
        },
    )
    layers = info.channel_layers
    assert layers is not None
    assert layers.backends == [REDIS, MEMORY]
    assert layers.env_vars == ["REDIS_URL"]
    assert layers.reads_env is True
    assert layers.dynamic is True


def test_conditional_expression_inline(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/settings.py": """
                import os
                CHANNEL_LAYERS = (
                    {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                 "CONFIG": {"hosts": [os.environ["REDIS_TLS_URL"]]}}}
                    if "REDIS_TLS_URL" in os.environ
                    else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
                )
                ASGI_APPLICATION = os.environ.get("ASGI_APP") or "proj.asgi.application"
            """
        },
    )
    assert info.channel_layers is not None
    assert info.channel_layers.backends == ["channels_redis.pubsub.RedisPubSubChannelLayer", MEMORY]
    assert info.channel_layers.env_vars == ["REDIS_TLS_URL"]
    assert info.asgi_application == "proj.asgi.application"


def test_backend_held_in_a_name(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/settings.py": """
                LAYER = "channels_redis.core.RedisChannelLayer"
                CHANNEL_LAYERS = {"default": {"BACKEND": LAYER, "CONFIG": {"hosts": ["redis://x"]}}}
            """
        },
    )
    assert info.channel_layers is not None
    assert info.channel_layers.backends == [REDIS]
    assert info.channel_layers.reads_env is False
    assert info.channel_layers.env_vars == []
    assert info.channel_layers.dynamic is False


def test_env_var_through_module_level_name(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/settings.py": """
                import os
                REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379")
                CHANNEL_LAYERS = {
                    "default": {
                        "BACKEND": "channels_redis.core.RedisChannelLayer",
                        "CONFIG": {"hosts": [REDIS_URL]},
                    }
                }
            """
        },
    )
    layers = info.channel_layers
    assert layers is not None
    assert layers.backends == [REDIS]
    assert layers.reads_env is True
    assert layers.env_vars == ["REDIS_URL"]
    assert layers.dynamic is True  # the hosts are not known statically


def test_settings_package_star_imports(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "config/__init__.py": "",
            "config/settings/__init__.py": """
                import os
                from .base import *  # noqa

                if os.environ.get("DJANGO_ENV") == "production":
                    from config.settings.production import *  # noqa
            """,
            "config/settings/base.py": """
                INSTALLED_APPS = ["django.contrib.staticfiles", "channels", "rooms"]
                ASGI_APPLICATION = "config.asgi.application"
                DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}
            """,
            "config/settings/production.py": """
                from .base import *  # noqa
                import dj_database_url
                DATABASES = {"default": dj_database_url.config()}
            """,
        },
        module="config.settings",
    )
    assert info.files == [
        "config/settings/__init__.py",
        "config/settings/base.py",
        "config/settings/production.py",
    ]
    assert info.installed_apps == ["django.contrib.staticfiles", "channels", "rooms"]
    assert info.asgi_application == "config.asgi.application"
    assert info.databases is not None
    assert info.databases.engines == [SQLITE]
    assert info.databases.env_vars == ["DATABASE_URL"]
    assert info.databases.reads_env is True
    assert info.databases.sqlite_only is False


def test_from_import_of_named_settings(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/base.py": 'INSTALLED_APPS = ["a"]\nASGI_APPLICATION = "x.asgi.application"\n',
            "proj/settings.py": """
                from .base import INSTALLED_APPS
                from proj.base import ASGI_APPLICATION as ASGI_APP
                INSTALLED_APPS += ["b"]
            """,
        },
    )
    assert info.installed_apps == ["a", "b"]
    assert info.asgi_application is None  # imported under another name
    assert info.files == ["proj/settings.py", "proj/base.py"]


def test_optional_local_settings_missing(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/settings.py": """
                INSTALLED_APPS = ["a"]
                try:
                    from .local import *  # noqa
                except ImportError:
                    pass
            """,
        },
    )
    assert info.installed_apps == ["a"]
    assert info.files == ["proj/settings.py"]


def test_optional_local_settings_present(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/local.py": 'INSTALLED_APPS = ["a", "debug_toolbar"]\n',
            "proj/settings.py": """
                INSTALLED_APPS = ["a"]
                try:
                    from .local import *  # noqa
                except ImportError:
                    pass
            """,
        },
    )
    assert info.installed_apps == ["a", "debug_toolbar"]
    assert info.files == ["proj/settings.py", "proj/local.py"]


def test_circular_star_imports_terminate(tmp_path: Path) -> None:
    info = settings_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/settings.py": 'from .other import *\nINSTALLED_APPS = ["a"]\n',
            "proj/other.py": "from .settings import *\nDEBUG = True\n",
        },
    )
    assert info.installed_apps == ["a"]
    assert info.files == ["proj/settings.py", "proj/other.py"]


@pytest.mark.parametrize(
    ("source", "engines", "env_vars", "sqlite_only"),
    [
        (
            'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",'
            ' "NAME": BASE_DIR / "db"}}',
            [SQLITE],
            [],
            True,
        ),
        (
            "import dj_database_url\n"
            'DATABASES = {"default": dj_database_url.config(conn_max_age=600)}',
            [],
            ["DATABASE_URL"],
            False,
        ),
        ('DATABASES = {"default": dj_database_url.config(env="PG")}', [], ["PG"], False),
        ("DATABASES = {'default': env.db()}", [], ["DATABASE_URL"], False),
        (
            'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", '
            '"PASSWORD": os.environ["DB_PASSWORD"]}}',
            [POSTGRES],
            ["DB_PASSWORD"],
            False,
        ),
        (
            'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}\n'
            'DATABASES["default"] = dj_database_url.config(conn_max_age=600)',
            [SQLITE],
            ["DATABASE_URL"],
            False,
        ),
        (
            'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}\n'
            "db_from_env = dj_database_url.config()\n"
            'DATABASES["default"].update(db_from_env)',
            [SQLITE],
            ["DATABASE_URL"],
            False,
        ),
    ],
    ids=[
        "sqlite",
        "dj-database-url",
        "dj-database-url-env",
        "environ-db",
        "postgres-password",
        "subscript-assignment",
        "update",
    ],
)
def test_databases(
    tmp_path: Path, source: str, engines: list[str], env_vars: list[str], sqlite_only: bool
) -> None:
    info = settings_of(tmp_path, {"proj/settings.py": source + "\n"})
    db = info.databases
    assert db is not None
    assert db.engines == engines
    assert db.env_vars == env_vars
    assert db.reads_env is bool(env_vars)
    assert db.sqlite_only is sqlite_only


def test_syntax_error_raises_source_error_with_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        settings_of(tmp_path, {"proj/settings.py": 'DEBUG = True\nINSTALLED_APPS = [\n    "a",\n'})
    assert info.value.path == "proj/settings.py"
    assert info.value.line == 2


def test_syntax_error_in_star_imported_file_names_that_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        settings_of(
            tmp_path,
            {
                "proj/__init__.py": "",
                "proj/settings.py": "from .base import *\n",
                "proj/base.py": "X = 1\nY = = 2\n",
            },
        )
    assert info.value.path == "proj/base.py"
    assert info.value.line == 2


def test_missing_settings_module(tmp_path: Path) -> None:
    write(tmp_path, {"proj/__init__.py": ""})
    with pytest.raises(SettingsNotFound) as info:
        read_settings(ModuleIndex([tmp_path], tmp_path), "proj.settings", "manage.py")
    assert str(info.value) == "proj.settings"


# =============================================================================================
# asgi_scan
# =============================================================================================


def test_split_app_path_and_siblings() -> None:
    assert split_app_path("mysite.asgi.application") == ("mysite.asgi", "application")
    assert split_app_path("core.routing.app") == ("core.routing", "app")
    assert split_app_path("asgi") == ("asgi", "application")
    assert sibling_module("mysite.wsgi", "asgi") == "mysite.asgi"
    assert sibling_module("wsgi", "asgi") == "asgi"


def test_default_asgi_module(tmp_path: Path) -> None:
    index = index_of(
        tmp_path, {"proj/asgi.py": "", "conf/settings/base.py": "", "conf/asgi.py": ""}
    )
    assert default_asgi_module(index, "proj.settings", None) == "proj.asgi"
    assert default_asgi_module(index, "x.settings", "proj.wsgi.application") == "proj.asgi"
    assert default_asgi_module(index, "conf.settings.base", None) == "conf.asgi"
    assert default_asgi_module(index, "nope.settings", None) == "nope.asgi"
    assert default_asgi_module(index, "settings", None) == "asgi"
    assert default_asgi_module(index, "settings", "wsgi.application") == "asgi"
    assert locate(index, "proj.settings", None, None) == ("proj.asgi", "application", True)
    assert locate(index, "proj.settings", "proj.asgi.app", None) == ("proj.asgi", "app", True)
    assert locate(index, "proj.settings", "core.routing.application", None) == (
        "core.routing",
        "application",
        False,
    )


def test_classify_stock(tmp_path: Path) -> None:
    index = index_of(tmp_path, {"proj/__init__.py": "", "proj/asgi.py": STOCK_ASGI})
    info = classify(index, "proj.asgi", "application", conventional=True, explicit=False)
    assert info.kind == "stock"
    assert info.path == "proj/asgi.py"
    assert info.channels_aware is False
    assert info.origin_validation is False
    assert info.settings_default == "proj.settings"
    assert info.background_channels == []
    assert info.app_path == "proj.asgi:application"


def test_classify_channels(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/asgi.py": CHANNELS_ASGI,
            "chat/__init__.py": "",
            "chat/routing.py": CHAT_ROUTING,
        },
    )
    info = classify(index, "proj.asgi", "application", conventional=True, explicit=True)
    assert info.kind == "channels"
    assert info.channels_aware is True
    assert info.origin_validation is True
    assert info.settings_default == "proj.settings"


def test_classify_missing(tmp_path: Path) -> None:
    index = index_of(tmp_path, {"proj/__init__.py": ""})
    info = classify(index, "proj.asgi", "application", conventional=True, explicit=False)
    assert info.kind == "missing"
    assert info.path is None
    assert info.module == "proj.asgi"


def test_classify_custom(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        {
            "core/__init__.py": "",
            "core/routing.py": """
                from channels.routing import ProtocolTypeRouter, URLRouter
                from channels.security.websocket import OriginValidator
                application = ProtocolTypeRouter(
                    {"websocket": OriginValidator(URLRouter([]), ["*"])}
                )
            """,
        },
    )
    info = classify(index, "core.routing", "application", conventional=False, explicit=True)
    assert info.kind == "custom"
    assert info.channels_aware is True
    assert info.origin_validation is True
    assert info.settings_default is None
    assert describe_asgi(info) == "core.routing:application (custom ASGI_APPLICATION (Channels))"


def test_classify_syntax_error_in_asgi_module_raises(tmp_path: Path) -> None:
    index = index_of(tmp_path, {"proj/asgi.py": "application = (\n"})
    with pytest.raises(SourceError) as info:
        classify(index, "proj.asgi", "application", conventional=True, explicit=False)
    assert info.value.path == "proj/asgi.py"


def test_classify_ignores_syntax_errors_in_imported_modules(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        {
            "proj/asgi.py": "import chat.broken\nfrom channels.routing import ProtocolTypeRouter\n"
            "application = ProtocolTypeRouter({})\n",
            "chat/broken.py": "def (:\n",
        },
    )
    info = classify(index, "proj.asgi", "application", conventional=True, explicit=False)
    assert info.kind == "channels"


def test_channel_name_router_in_asgi_module(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        {
            "proj/asgi.py": """
                from channels.routing import ChannelNameRouter, ProtocolTypeRouter
                application = ProtocolTypeRouter({
                    "channel": ChannelNameRouter({
                        "thumbnails": ThumbnailConsumer.as_asgi(),
                        "emails": EmailConsumer.as_asgi(),
                    }),
                })
            """
        },
    )
    info = classify(index, "proj.asgi", "application", conventional=True, explicit=False)
    assert info.background_channels == ["emails", "thumbnails"]
    assert info.origin_validation is False


def test_channel_name_router_in_imported_module_with_named_dict(tmp_path: Path) -> None:
    index = index_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/asgi.py": """
                from channels.routing import ProtocolTypeRouter
                from tasks.routing import channel_router
                application = ProtocolTypeRouter({"channel": channel_router})
            """,
            "tasks/__init__.py": "",
            "tasks/routing.py": """
                from channels.routing import ChannelNameRouter
                from tasks import consumers
                CHANNELS = {"resize": consumers.Resize.as_asgi(), "mail": consumers.Mail.as_asgi()}
                channel_router = ChannelNameRouter(CHANNELS)
            """,
            "tasks/consumers.py": """
                from channels.routing import ChannelNameRouter
                other = ChannelNameRouter({"billing": Billing.as_asgi()})
            """,
        },
    )
    info = classify(index, "proj.asgi", "application", conventional=True, explicit=False)
    assert info.kind == "channels"
    assert info.background_channels == ["billing", "mail", "resize"]


def test_websocket_modules_are_leaves(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/asgi.py": STOCK_ASGI,
            "chat/__init__.py": "",
            "chat/routing.py": CHAT_ROUTING,
            "notify/__init__.py": "",
            "notify/routing.py": 'websocket_urlpatterns = (path("ws/n/", N.as_asgi()),)\n',
            "notify/migrations/0001_x.py": "websocket_urlpatterns = []\n",
            "node_modules/pkg/routing.py": "websocket_urlpatterns = []\n",
            "chat/views.py": "# websocket_urlpatterns is defined in routing.py\n",
            f"{GENERATED_MODULE}.py": "websocket_urlpatterns = []\n",
            "broken/routing.py": "websocket_urlpatterns = [\n",
        },
    )
    index = ModuleIndex([tmp_path], tmp_path)
    assert find_websocket_modules(index, tmp_path) == ["chat.routing", "notify.routing"]


@pytest.mark.parametrize(
    "aggregate",
    [
        "websocket_urlpatterns = chat.routing.websocket_urlpatterns"
        " + notify.routing.websocket_urlpatterns",
        "websocket_urlpatterns = [*chat.routing.websocket_urlpatterns,"
        " *notify.routing.websocket_urlpatterns]",
    ],
    ids=["plus", "starred"],
)
def test_aggregator_does_not_duplicate_its_leaves(tmp_path: Path, aggregate: str) -> None:
    write(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/routing.py": f"import chat.routing\nimport notify.routing\n{aggregate}\n",
            "chat/__init__.py": "",
            "chat/routing.py": CHAT_ROUTING,
            "notify/__init__.py": "",
            "notify/routing.py": 'websocket_urlpatterns = [path("ws/n/", N.as_asgi())]\n',
            "other/__init__.py": "",
            "other/routing.py": 'websocket_urlpatterns = [path("ws/o/", O.as_asgi())]\n',
        },
    )
    index = ModuleIndex([tmp_path], tmp_path)
    found = find_websocket_modules(index, tmp_path)
    # Routing each module once: the aggregator stands for chat and notify.
    assert found == ["other.routing", "proj.routing"]


def test_aggregator_with_from_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/routing.py": """
                from chat.routing import websocket_urlpatterns as chat_ws
                from notify import routing as notify_routing
                websocket_urlpatterns = chat_ws + notify_routing.websocket_urlpatterns
            """,
            "chat/__init__.py": "",
            "chat/routing.py": CHAT_ROUTING,
            "notify/__init__.py": "",
            "notify/routing.py": 'websocket_urlpatterns = [path("ws/n/", N.as_asgi())]\n',
        },
    )
    assert find_websocket_modules(ModuleIndex([tmp_path], tmp_path), tmp_path) == ["proj.routing"]


def test_websocket_scan_is_limited_to_project_dir(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "backend/notes/routing.py": CHAT_ROUTING,
            "backend/.venv/pyvenv.cfg": "",
            "backend/.venv/lib/x/routing.py": "websocket_urlpatterns = []\n",
            "backend/myenv/pyvenv.cfg": "",
            "backend/myenv/routing.py": "websocket_urlpatterns = []\n",
            "tools/routing.py": "websocket_urlpatterns = []\n",
        },
    )
    index = ModuleIndex([tmp_path / "backend", tmp_path], tmp_path)
    assert find_websocket_modules(index, tmp_path / "backend") == ["notes.routing"]


# =============================================================================================
# analysis over the fixtures
# =============================================================================================


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


# =============================================================================================
# report
# =============================================================================================


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
