"""A tiny Django project for the system checks (``manage.py check --deploy``): settings that
pass every check, ASGI modules wrapped and unwrapped in origin validators, Procfiles and an
app.json for the formation checks, and the child that runs many scenarios after one setup.
Used by ``tests/unit/runtime/config/test_checks.py``."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

TLS_URL = "rediss://:pw@ec2-1-2-3-4.compute-1.amazonaws.com:6380"
APPS = [  # the project's INSTALLED_APPS: Daphne first, as its runserver needs
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "buildpack",
]

SETTINGS = """
import json, os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-only-" + "k3y" * 20
DEBUG = False
ALLOWED_HOSTS = ["myapp-1a2b.herokuapp.com"]
INSTALLED_APPS = APPS_LIST
ROOT_URLCONF = "proj.urls"
STATIC_URL = "static/"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db"}}
ASGI_APPLICATION = "proj.asgi_safe.application"
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "buildpack.layers.redis.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": "TLS_URL", "ssl_cert_reqs": None}]},
    }
}
CSRF_TRUSTED_ORIGINS = ["https://myapp-1a2b.herokuapp.com"]
globals().update(json.loads(os.environ.get("TEST_OVERRIDES", "{}")))
""".replace("TLS_URL", TLS_URL).replace("APPS_LIST", json.dumps(APPS))

ASGI = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.asgi import get_asgi_application
django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from proj.consumers import Echo

routes = URLRouter([path("ws/echo/", Echo.as_asgi())])
application = ProtocolTypeRouter({"http": django_app, "websocket": WEBSOCKET})
"""

CONSUMERS = """
from channels.generic.websocket import WebsocketConsumer


class Echo(WebsocketConsumer):
    def receive(self, text_data=None, bytes_data=None):
        self.send(text_data=text_data)
"""

MANAGE = """
import os, sys
if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""

RUNNER = """
import json, os, sys
import django
from django.core import checks
from django.test.utils import override_settings

django.setup()
results = {}
for name, scenario in json.loads(sys.stdin.read()).items():
    saved = dict(os.environ)
    os.environ.update(scenario.get("env", {}))
    try:
        with override_settings(**scenario.get("settings", {})):
            messages = checks.run_checks(include_deployment_checks=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    results[name] = [
        [m.id, m.msg, m.hint, m.level]
        for m in messages
        if (m.id or "").startswith("channels_buildpack.")
    ]
print(json.dumps(results))
"""


def asgi(websocket: str) -> str:
    """The project's ASGI module with *websocket* as the WebSocket application."""
    return ASGI.replace("WEBSOCKET", websocket)


def write_checks_project(root: Path) -> Path:
    """The project below *root*; *root*."""
    files = {
        "manage.py": MANAGE,
        "proj/__init__.py": "",
        "proj/settings.py": SETTINGS,
        "proj/urls.py": "urlpatterns = []\n",
        "proj/consumers.py": CONSUMERS,
        "proj/asgi_safe.py": asgi("AllowedHostsOriginValidator(AuthMiddlewareStack(routes))"),
        "proj/asgi_open.py": asgi("AuthMiddlewareStack(routes)"),
        "proj/asgi_bare.py": asgi("routes"),
        "proj/asgi_inner_validator.py": asgi(
            "AuthMiddlewareStack(AllowedHostsOriginValidator(routes))"
        ),
        "proj/asgi_per_route.py": asgi(
            "AuthMiddlewareStack(URLRouter(["
            "path('ws/a/', AllowedHostsOriginValidator(Echo.as_asgi())),"
            "path('ws/b/', URLRouter([path('x/', AllowedHostsOriginValidator(Echo.as_asgi()))])),"
            "]))"
        ),
        "proj/asgi_one_route_open.py": asgi(
            "URLRouter(["
            "path('ws/a/', AllowedHostsOriginValidator(Echo.as_asgi())),"
            "path('ws/b/', URLRouter([path('x/', Echo.as_asgi())])),"
            "])"
        ),
        "proj/asgi_http_only.py": ASGI.replace(', "websocket": WEBSOCKET', ""),
        "proj/asgi_plain.py": "async def application(scope, receive, send):\n    pass\n",
        "with_worker/Procfile": "web: channels-buildpack web\nworker: channels-buildpack worker\n",
        "release_only/Procfile": "web: channels-buildpack web\nrelease: python manage.py migrate\n",
        "forking_web/Procfile": "web: gunicorn -k uvicorn.workers.UvicornWorker proj.asgi:app\n",
        "big_formation/Procfile": "web: channels-buildpack web\nworker: channels-buildpack worker",
        "big_formation/app.json": json.dumps(
            {"formation": {"web": {"quantity": 2}, "worker": {"quantity": 8}}}
        ),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without ours or Django's variables, with the project's settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHANNELS_", "DJANGO_", "HEROKU_", "PYTHON"))
        and k not in ("REDIS_URL", "DATABASE_URL", "DYNO", "WEB_CONCURRENCY", "TEST_OVERRIDES")
    }
    env.update(PYTHONDONTWRITEBYTECODE="1", DJANGO_SETTINGS_MODULE="proj.settings", **extra)
    return env
