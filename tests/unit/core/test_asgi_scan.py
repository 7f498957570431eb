"""Unit tests for ``buildpack.core.asgi_scan``: the ASGI module (stock, Channels, missing,
custom), its WebSocket routes and background channels, found statically.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from buildpack.core.analysis import describe_asgi
from buildpack.core.asgi_scan import (
    GENERATED_MODULE,
    classify,
    default_asgi_module,
    find_websocket_modules,
    locate,
    sibling_module,
    split_app_path,
)
from buildpack.core.pysource import (
    ModuleIndex,
    SourceError,
)
from tests.support.projects import (
    CHANNELS_ASGI,
    CHAT_ROUTING,
    STOCK_ASGI,
    index_of,
    write,
)


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
