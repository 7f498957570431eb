"""A small, valid Channels project to write into a directory and then break (tests of the
static readers and the hostile-repository corpus)."""

from __future__ import annotations

from pathlib import Path

MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
SETTINGS = """\
SECRET_KEY = "x"
INSTALLED_APPS = ["daphne", "django.contrib.staticfiles", "channels"]
ASGI_APPLICATION = "proj.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
"""
ASGI = """\
import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
application = ProtocolTypeRouter({"http": get_asgi_application()})
"""
REQUIREMENTS = "django>=4.2\nchannels>=4.0\ndaphne>=4.0\nchannels-redis>=4.2\n"


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Write *files* (relative path -> text or bytes) below *root*."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def app(root: Path, overrides: dict[str, str | bytes | None] | None = None) -> None:
    """A small, valid Channels project; *overrides* replace (None: leave out) its files."""
    files: dict[str, str | bytes | None] = {
        "manage.py": MANAGE_PY,
        "proj/__init__.py": "",
        "proj/settings.py": SETTINGS,
        "proj/asgi.py": ASGI,
        "requirements.txt": REQUIREMENTS,
    }
    files.update(overrides or {})
    write(root, {name: content for name, content in files.items() if content is not None})
