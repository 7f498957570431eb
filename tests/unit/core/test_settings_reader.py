"""Unit tests for ``buildpack.core.settings_reader``: a settings module's values, read
statically (literals, mutations, branches, star imports, names), never imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from buildpack.core.pysource import (
    ModuleIndex,
    SourceError,
)
from buildpack.core.settings_reader import SettingsNotFound, read_namespace, read_settings
from tests.support.projects import (
    index_of,
    settings_of,
    write,
)

REDIS = "channels_redis.core.RedisChannelLayer"
MEMORY = "channels.layers.InMemoryChannelLayer"
SQLITE = "django.db.backends.sqlite3"
POSTGRES = "django.db.backends.postgresql"


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
