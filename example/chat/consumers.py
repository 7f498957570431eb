"""
Three consumers:

- ChatConsumer (WebSocket /ws/chat/<room>/): a chat room. Every message goes through the channel
  layer to the room's group, so it reaches clients connected to any web process.
- JobsSocketConsumer (WebSocket /ws/jobs/): hands jobs to the "jobs" background channel and relays
  the results back to this page.
- JobConsumer (background channel "jobs", run by `manage.py runworker jobs`): does the work.
"""

import asyncio
import json
import logging
import os
import time
import uuid

from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

logger = logging.getLogger(__name__)

MAX_MESSAGE = 500
MAX_NAME = 32


def process_info():
    """Which process is this? On Heroku DYNO is e.g. "web.1" or "worker.2"."""
    return {"dyno": os.environ.get("DYNO", "local"), "pid": os.getpid()}


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            data = json.loads(text_data or "")
        except json.JSONDecodeError:
            return
        message = str(data.get("message", "")).strip()[:MAX_MESSAGE]
        if not message:
            return
        name = str(data.get("name") or "anonymous").strip()[:MAX_NAME] or "anonymous"
        await self.channel_layer.group_send(
            self.room_group_name,
            {"type": "chat.message", "message": message, "name": name, "sent_at": time.time()},
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps(
                {"message": event["message"], "name": event["name"], "sent_at": event["sent_at"]}
            )
        )


class JobsSocketConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        # A private group per socket: the worker replies to it with group_send.
        self.reply_group = f"jobs-{uuid.uuid4().hex}"
        await self.channel_layer.group_add(self.reply_group, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.reply_group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            data = json.loads(text_data or "")
        except json.JSONDecodeError:
            data = {}
        job = str(data.get("job", "")).strip()[:MAX_MESSAGE]
        if not job:
            await self.send(text_data=json.dumps({"error": "send {\"job\": \"some text\"}"}))
            return
        await self.channel_layer.send(
            "jobs",
            {
                "type": "job.run",
                "job": job,
                "reply_group": self.reply_group,
                "web": process_info(),
                "queued_at": time.time(),
            },
        )

    async def job_result(self, event):
        await self.send(
            text_data=json.dumps(
                {
                    "job": event["job"],
                    "result": event["result"],
                    "web": event["web"],
                    "worker": event["worker"],
                    "seconds": event["seconds"],
                }
            )
        )


class JobConsumer(AsyncConsumer):
    """Background consumer for the "jobs" channel."""

    async def job_run(self, message):
        await asyncio.sleep(0.5)  # pretend to work
        result = message["job"].upper()
        worker = process_info()
        logger.info("job %r done by %s (pid %s)", message["job"], worker["dyno"], worker["pid"])
        await self.channel_layer.group_send(
            message["reply_group"],
            {
                "type": "job.result",
                "job": message["job"],
                "result": result,
                "web": message["web"],
                "worker": worker,
                "seconds": round(time.time() - message["queued_at"], 3),
            },
        )
