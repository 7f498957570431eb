"""Which requests the HTTP fast path takes (``fastpath_rules``): each rule on real Django
handlers.

One fresh interpreter configures Django, builds ``ASGIHandler``s under different settings and
prints what ``fastpath_rules`` decided for each case; the tests read those decisions. The
end-to-end behaviour of both paths is in ``tests/e2e/test_http_fast_path.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from typing import Any

SCRIPT = r"""
import json, django
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="x", ALLOWED_HOSTS=["*"], ROOT_URLCONF="__main__",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages"],
    MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
                "django.contrib.messages.middleware.MessageMiddleware",
                "django.middleware.clickjacking.XFrameOptionsMiddleware"],
    DATABASES={}, FILE_UPLOAD_MAX_MEMORY_SIZE=1000, STATIC_URL="/static/",
)
django.setup()
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_started
from django.http import HttpResponse
from django.test.utils import override_settings
from django.urls import clear_url_caches, path
from django.utils.deprecation import MiddlewareMixin
from buildpack.runtime.web import fastpath_rules as rules

def sync_view(request): return HttpResponse("sync")
async def async_view(request): return HttpResponse("async")
urlpatterns = [path("sync/", sync_view)]

class AsyncOnly:
    async_capable, sync_capable = True, False
    def __init__(self, get_response): self.get_response = get_response
    async def __call__(self, request): return await self.get_response(request)

class AsyncViewHook(MiddlewareMixin):
    async def process_view(self, request, view, args, kwargs): return None

def scope(path="/sync/", headers=(), **extra):
    return {"type": "http", "method": "GET", "path": path, "headers": list(headers), **extra}

def plan():
    return rules.compute(ASGIHandler())

out = {}
default = plan()
out["default"] = [default.chain is not None, default.resolve_first, default.reason]
out["eligible"] = rules.eligible(default, scope())
out["root_path"] = rules.eligible(default, scope(root_path="/app"))
with override_settings(FORCE_SCRIPT_NAME="/app"):
    out["force_script_name"] = rules.eligible(default, scope())
out["chunked"] = rules.eligible(default, scope(headers=[(b"transfer-encoding", b"chunked")]))
out["small_body"] = rules.eligible(default, scope(headers=[(b"content-length", b"1000")]))
out["big_body"] = rules.eligible(default, scope(headers=[(b"content-length", b"1001")]))
out["bad_length"] = rules.eligible(default, scope(headers=[(b"content-length", b"x")]))

async def on_started(sender, **kwargs): pass
request_started.connect(on_started)
out["async_receiver"] = rules.eligible(default, scope())
request_started.disconnect(on_started)
out["receiver_gone"] = rules.eligible(default, scope())

urlpatterns.append(path("async/", async_view))
clear_url_caches()
mixed = plan()
out["mixed"] = [mixed.chain is not None, mixed.resolve_first]
out["mixed_sync"] = rules.eligible(mixed, scope())
out["mixed_async"] = rules.eligible(mixed, scope("/async/"))
out["mixed_404"] = rules.eligible(mixed, scope("/nowhere/"))

with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, "__main__.AsyncOnly"]):
    out["async_only"] = plan().reason
with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, "__main__.AsyncViewHook"]):
    out["async_hook"] = plan().reason
out["static_handler"] = rules.compute(ASGIStaticFilesHandler(ASGIHandler())).reason

from buildpack.runtime.web import fastpath
stock = ASGIHandler.handle
fastpath.install()
installed = ASGIHandler.handle
fastpath.install()
out["install"] = [installed is not stock, ASGIHandler.handle is installed,
                  installed.__wrapped__ is stock]
print(json.dumps(out))
"""


@cache
def decisions() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_default_middleware_and_sync_views_take_the_fast_path() -> None:
    assert decisions()["default"] == [True, False, ""]
    assert decisions()["eligible"] is True


def test_a_script_prefix_goes_to_djangos_path() -> None:
    assert decisions()["root_path"] is False
    assert decisions()["force_script_name"] is False


def test_a_body_django_would_spool_to_disk_goes_to_djangos_path() -> None:
    assert decisions()["small_body"] is True  # FILE_UPLOAD_MAX_MEMORY_SIZE=1000
    assert decisions()["big_body"] is False
    assert decisions()["chunked"] is False
    assert decisions()["bad_length"] is False


def test_an_async_request_started_receiver_goes_to_djangos_path() -> None:
    assert decisions()["async_receiver"] is False
    assert decisions()["receiver_gone"] is True


def test_async_views_are_found_per_request() -> None:
    assert decisions()["mixed"] == [True, True]  # a URLconf with async views: resolve first
    assert decisions()["mixed_sync"] is True
    assert decisions()["mixed_async"] is False
    assert decisions()["mixed_404"] is True  # the sync chain answers 404 as Django would


def test_what_the_sync_chain_cannot_run_natively_disables_it_with_a_reason() -> None:
    assert "middleware __main__.AsyncOnly is async-only" in decisions()["async_only"]
    assert "AsyncViewHook.process_view is a coroutine" in decisions()["async_hook"]
    assert "ASGIStaticFilesHandler overrides" in decisions()["static_handler"]


def test_install_wraps_djangos_handle_once() -> None:
    assert decisions()["install"] == [True, True, True]
