"""An async-only middleware (the http_sync family's second app): passes every request on."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class AsyncPassThrough:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    async def __call__(self, request):
        return await self.get_response(request)
