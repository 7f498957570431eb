"""
ASGI config for the Channels demo.

- "http": Django views (the page, /health/, the admin), static files via WhiteNoise.
- "websocket": /ws/chat/<room>/ and /ws/jobs/.
- "channel": the "jobs" background channel, consumed by `python manage.py runworker jobs`.
"""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
# Initialize Django ASGI application early to ensure the AppRegistry
# is populated before importing code that may import ORM models.
django_asgi_app = get_asgi_application()

from chat.consumers import JobConsumer
from chat.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        "channel": ChannelNameRouter({"jobs": JobConsumer.as_asgi()}),
    }
)
