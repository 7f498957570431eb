"""Small Django projects written into a directory, for the tests of the static readers
(``buildpack.core``'s dependency, settings, ASGI and analysis readers): nothing here is
ever imported or run."""

from __future__ import annotations

import textwrap
from pathlib import Path

from buildpack.core.deps import Dependencies, read_dependencies
from buildpack.core.plan import SettingsInfo
from buildpack.core.pysource import ModuleIndex
from buildpack.core.settings_reader import read_settings
from tests.support.sample_app import write as write_files


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write *files* (relative path -> text, dedented, or bytes) below *root*; *root*."""
    dedented = {
        name: content if isinstance(content, bytes) else textwrap.dedent(content).lstrip("\n")
        for name, content in files.items()
    }
    write_files(root, dedented)
    return root


def dependencies_of(root: Path, files: dict[str, str | bytes]) -> Dependencies:
    """What the dependency readers make of *files*, written below *root*."""
    return read_dependencies(write(root, files))


def settings_of(root: Path, files: dict[str, str], module: str = "proj.settings") -> SettingsInfo:
    """What the settings reader makes of settings module *module* among *files*."""
    write(root, files)
    return read_settings(ModuleIndex([root], root), module, "manage.py")


def index_of(root: Path, files: dict[str, str]) -> ModuleIndex:
    """A module index over *files*, written below *root*."""
    write(root, files)
    return ModuleIndex([root], root)


def manage_py(settings: str = "proj.settings") -> str:
    """Django's stock ``manage.py``, setting *settings* as the default settings module."""
    return f"""
        import os
        import sys

        def main():
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
            from django.core.management import execute_from_command_line
            execute_from_command_line(sys.argv)

        if __name__ == "__main__":
            main()
    """


STOCK_ASGI = """
    import os

    from django.core.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

    application = get_asgi_application()
"""

CHANNELS_ASGI = """
    import os

    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator
    from django.core.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
    django_asgi_app = get_asgi_application()

    from chat.routing import websocket_urlpatterns

    application = ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
"""

CHAT_ROUTING = """
    from django.urls import path

    from chat.consumers import ChatConsumer

    websocket_urlpatterns = [path("ws/chat/", ChatConsumer.as_asgi())]
"""
