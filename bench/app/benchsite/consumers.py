"""WebSocket consumers and the background job consumer used by the benchmarks."""

import asyncio
import json
import os
import time

from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

WHO = f"{os.environ.get('DYNO', 'local')}:{os.getpid()}"


class EchoConsumer(AsyncWebsocketConsumer):
    """Sends every text frame back as it came (no channel layer traffic)."""

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data, bytes_data=bytes_data)


class GroupConsumer(AsyncWebsocketConsumer):
    """Joins the group named in the URL and relays that group's messages as plain text.

    A text frame ``{"broadcast": TEXT}`` sends TEXT to this socket's group;
    ``{"group": NAME, "text": TEXT}`` sends it to another group (a trigger socket);
    ``{"job": ID}`` sends a job to the ``jobs`` background channel (with ``"reply": true``
    the job announces ``done ID`` to this socket's group when it is done).
    """

    async def connect(self):
        self.group = self.scope["url_route"]["kwargs"]["name"]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        data = json.loads(text_data)
        if "job" in data:
            job = {"type": "job.run", "id": data["job"]}
            if data.get("reply"):
                job["group"] = self.group
            await self.channel_layer.send("jobs", job)
            return
        if "broadcast" in data:
            group, text = self.group, data["broadcast"]
        else:
            group, text = data["group"], data["text"]
        await self.channel_layer.group_send(group, {"type": "relay", "text": text})

    async def relay(self, event):
        await self.send(text_data=event["text"])


_clients = {}


def _redis():
    """One Redis client per event loop (runworker and our worker each run one loop)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        from redis import asyncio as aioredis

        url = os.environ.get("BENCH_RECORD_URL") or os.environ["REDIS_URL"]
        client = _clients[loop] = aioredis.Redis.from_url(url)
    return client


class JobConsumer(AsyncConsumer):
    """A background job: optional asyncio sleep (I/O-bound work), then record it in Redis.

    ``bench:count`` id -> times handled, ``bench:who`` id -> "DYNO:pid",
    ``bench:done`` id -> time.time() when it finished; ``done ID`` to the message's
    ``group`` when it names one.
    """

    async def job_run(self, message):
        seconds = float(message.get("seconds") or 0)
        if seconds:
            await asyncio.sleep(seconds)
        job_id = message["id"]
        pipe = _redis().pipeline(transaction=False)
        pipe.hincrby("bench:count", job_id, 1)
        pipe.hset("bench:who", job_id, WHO)
        pipe.hset("bench:done", job_id, repr(time.time()))
        await pipe.execute()
        if message.get("group"):
            await self.channel_layer.group_send(
                message["group"], {"type": "relay", "text": f"done {job_id}"}
            )
