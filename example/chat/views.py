import os

from django.http import HttpResponse
from django.shortcuts import render


def index(request):
    return render(
        request,
        "chat/index.html",
        {"web_dyno": os.environ.get("DYNO", "local"), "web_pid": os.getpid()},
    )


def health(request):
    """Liveness probe for the platform router and uptime checks."""
    return HttpResponse("ok", content_type="text/plain")
