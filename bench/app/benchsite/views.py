"""Small views: the HTTP loads measure the server, not the view."""

from django.http import HttpResponse, JsonResponse


def health(request):
    return HttpResponse("ok")


async def async_health(request):
    return HttpResponse("ok")


def json_view(request):
    return JsonResponse({"ok": True, "items": list(range(10))})
