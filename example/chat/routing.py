from django.urls import path, re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"ws/chat/(?P<room_name>[A-Za-z0-9_-]{1,64})/$", consumers.ChatConsumer.as_asgi()),
    path("ws/jobs/", consumers.JobsSocketConsumer.as_asgi()),
]
