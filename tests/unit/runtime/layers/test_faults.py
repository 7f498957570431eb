"""Issue 20 at the layer: Redis faults met by our channel layers in this process, against a
real redis-server (e2e versions with dynos: ``tests/e2e/test_redis_faults.py``).

* a reply lost after the server executed a send or a group send: received once (and, to
  show the test can tell, twice without the write id);
* a stall longer than the command timeout: commands retried, nothing lost or doubled, the
  blocking reader waits it out;
* a full Redis (``noeviction``): writes wait, one line says Redis is full, one says when it
  took writes again; no exception reaches the caller;
* data lost without a restart (``FLUSHALL``) and a restart that comes back empty: group
  memberships put back, on the core layer; the pub/sub layer re-subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from buildpack import messages
from buildpack.runtime.layers import recovery
from buildpack.runtime.layers import redis as redis_layers
from buildpack.runtime.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from tests.support.dropper import ReplyDropper
from tests.support.faults import full, restart_empty, stall
from tests.support.redis import RedisServer

# smoke: also on the Python 3.14 leg, against Debian sid's Redis 8 (its error replies differ)
pytestmark = [pytest.mark.redis, pytest.mark.smoke]

# The send script without its write id: what a retried write does without one.
UNGUARDED_SEND = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
UNGUARDED_GROUP_SEND = """
local count = #KEYS - 1
for i = 1, count do
    redis.call('ZADD', KEYS[i], ARGV[#ARGV - 2], ARGV[i])
end
return 0
"""


async def _collect(layer: Any, channel: str, into: list[dict[str, Any]]) -> None:
    while True:
        into.append(await layer.receive(channel))


@contextlib.asynccontextmanager
async def _receiving(layer: Any, *channels: str) -> Any:
    """Consumers receiving on *channels*: yields channel -> messages received."""
    received: dict[str, list[dict[str, Any]]] = {channel: [] for channel in channels}
    tasks = [asyncio.ensure_future(_collect(layer, c, received[c])) for c in channels]
    await asyncio.sleep(0.3)  # the reader is blocked in BZPOPMIN on their keys
    try:
        yield received
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await layer.stop_reading()


@pytest.mark.parametrize("guarded", [True, False], ids=["write-id", "without-write-id"])
def test_a_send_whose_reply_is_lost_is_received_once(
    redis_server: RedisServer, guarded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not guarded:
        monkeypatch.setattr(redis_layers, "SEND_SCRIPT", UNGUARDED_SEND)

    async def scenario() -> tuple[int, int]:
        async with ReplyDropper(redis_server.port) as proxy:
            layer = RedisChannelLayer(hosts=[proxy.url])
            async with _receiving(layer, "jobs") as received:
                proxy.arm(b"EVAL")
                await layer.send("jobs", {"type": "job.run", "n": 1})
                await asyncio.sleep(1.5)  # a second copy would arrive now
            await layer.flush()
            return proxy.dropped, len(received["jobs"])

    dropped, count = asyncio.run(scenario())
    assert dropped == 1
    assert count == (1 if guarded else 2)


@pytest.mark.parametrize("guarded", [True, False], ids=["write-id", "without-write-id"])
def test_a_group_send_whose_reply_is_lost_reaches_each_member_once(
    redis_server: RedisServer, guarded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not guarded:
        monkeypatch.setattr(redis_layers, "GROUP_SEND_SCRIPT", UNGUARDED_GROUP_SEND)

    async def scenario() -> tuple[int, list[int]]:
        async with ReplyDropper(redis_server.port) as proxy:
            layer = RedisChannelLayer(hosts=[proxy.url])
            members = [await layer.new_channel() for _ in range(3)]
            for channel in members:
                await layer.group_add("room", channel)
            async with _receiving(layer, *members) as received:
                proxy.arm(b"EVAL")
                await layer.group_send("room", {"type": "chat.line", "text": "hi"})
                await asyncio.sleep(1.5)
            await layer.flush()
            return proxy.dropped, [len(received[c]) for c in members]

    dropped, counts = asyncio.run(scenario())
    assert dropped == 1
    assert counts == ([1, 1, 1] if guarded else [2, 2, 2])


def test_a_stall_longer_than_the_command_timeout_loses_and_doubles_nothing(
    redis_server: RedisServer, capfd: pytest.CaptureFixture[str]
) -> None:
    """Commands time out after 6 s here (a user's ``socket_timeout``) and are retried while
    the server is stopped for 9 s; the blocking reader keeps its own, longer timeout, so
    what the server pops for it when it carries on still reaches it."""
    host = {"address": redis_server.url, "socket_timeout": 6}

    async def scenario() -> list[dict[str, Any]]:
        layer = RedisChannelLayer(hosts=[host])
        sender = RedisChannelLayer(hosts=[host])
        async with _receiving(layer, "jobs") as received:
            await sender.send("jobs", {"type": "job.run", "n": -1})
            stalled = asyncio.ensure_future(stall(redis_server, 9.0))
            await asyncio.sleep(0.2)
            sends = [sender.send("jobs", {"type": "job.run", "n": n}) for n in range(20)]
            groups = [sender.group_add("g", f"c{n}") for n in range(5)]
            await asyncio.gather(*sends, *groups, stalled)
            deadline = time.monotonic() + 15
            while len(received["jobs"]) < 21 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
        assert redis_server.client().zcard("asgi:group:g") == 5
        await layer.flush()
        await sender.flush()
        return received["jobs"]

    jobs = asyncio.run(scenario())
    assert sorted(job["n"] for job in jobs) == list(range(-1, 20))
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert err.count("Redis has not answered for") == 1, err
    assert "Redis answers again after" in err


def test_a_full_redis_is_waited_out_and_said_once(
    redis_server: RedisServer, capfd: pytest.CaptureFixture[str]
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        layer = RedisChannelLayer(hosts=[redis_server.url])
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        async with _receiving(layer, channel) as received:
            with full(redis_server):
                writes = asyncio.ensure_future(
                    asyncio.gather(
                        layer.group_send("room", {"type": "chat.line", "text": "while full"}),
                        layer.group_add("other", channel),
                        layer.send("jobs", {"type": "job.run"}),
                    )
                )
                await asyncio.sleep(3.0)
                assert not writes.done()
            await asyncio.wait_for(writes, 10)
            deadline = time.monotonic() + 5
            while not received[channel] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        await layer.flush()
        return received[channel]

    lines = asyncio.run(scenario())
    assert [line["text"] for line in lines] == ["while full"]
    err = capfd.readouterr().err
    began = messages.REDIS_FULL.split("(")[0]
    assert err.count(began) == 1, err
    assert ("OOM" in err or "OutOfMemoryError" in err) and "maxmemory" in err  # Redis 7 / 8
    assert "Redis accepts writes again after" in err
    assert "Traceback" not in err


@pytest.fixture
def fast_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(recovery, "CHECK_EVERY", 0.2)
    yield


async def _until(condition: Any, timeout: float) -> float:
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def test_memberships_come_back_after_a_flush_and_a_restart(
    redis_server: RedisServer, fast_guard: None, capfd: pytest.CaptureFixture[str]
) -> None:
    admin = redis_server.client()

    async def scenario() -> tuple[float, float]:
        layer = RedisChannelLayer(hosts=[redis_server.url])
        kept, left = await layer.new_channel(), await layer.new_channel()
        for group in ("room-a", "room-b"):
            await layer.group_add(group, kept)
        await layer.group_add("room-a", left)
        await layer.group_discard("room-a", left)

        async def members() -> bool:
            with contextlib.suppress(Exception):
                return admin.zrange("asgi:group:room-a", 0, -1) == [kept.encode()] and bool(
                    admin.zrange("asgi:group:room-b", 0, -1)
                )
            return False

        async with _receiving(layer, kept):
            admin.flushall()
            flushed = await _until(members, 5)
            await restart_empty(redis_server, down=1.0)
            restarted = await _until(members, 5)
        await layer.flush()
        return flushed, restarted

    flushed, restarted = asyncio.run(scenario())
    err = capfd.readouterr().err
    assert err.count("came back without its data") == 2, err
    assert "put back 2 group membership(s)" in err
    assert "Traceback" not in err
    print(f"\nmemberships back {flushed:.2f} s after FLUSHALL, {restarted:.2f} s after restart")


def test_the_pubsub_layer_hears_its_groups_again_after_an_empty_restart(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> float:
        listener = RedisPubSubChannelLayer(hosts=[redis_server.url])
        talker = RedisPubSubChannelLayer(hosts=[redis_server.url])
        channel = await listener.new_channel()
        await listener.group_add("room", channel)
        async with _receiving(listener, channel) as received:  # a consumer, always waiting
            await talker.group_send("room", {"type": "chat.line", "text": "before"})
            await _until(_has(received[channel], "before"), 5)
            await restart_empty(redis_server, down=1.0)
            back = time.monotonic()
            while not any(m["text"] == "after" for m in received[channel]):
                await talker.group_send("room", {"type": "chat.line", "text": "after"})
                await asyncio.sleep(0.25)
                assert time.monotonic() - back < 10, "the subscription never came back"
            healed = time.monotonic() - back
        await listener.flush()
        await talker.flush()
        return healed

    assert asyncio.run(scenario()) < 5.0


def _has(messages: list[dict[str, Any]], text: str) -> Any:
    async def check() -> bool:
        return any(m["text"] == text for m in messages)

    return check


@pytest.mark.parametrize("fault", ["stall", "restart"])
def test_waiting_consumers_keep_their_slots_through_a_fault(
    redis_server: RedisServer, fault: str
) -> None:
    """Three receives wait on a channel (a worker at concurrency 3) and one on a consumer's
    own channel while Redis stalls for 7 s or restarts empty: afterwards each slot gets
    one of the messages sent, none is lost or doubled."""

    async def scenario() -> tuple[list[int], list[str]]:
        layer = RedisChannelLayer(hosts=[redis_server.url])
        sender = RedisChannelLayer(hosts=[redis_server.url])
        own = await layer.new_channel()
        slots = [asyncio.ensure_future(layer.receive("jobs")) for _ in range(3)]
        mine = asyncio.ensure_future(layer.receive(own))
        await asyncio.sleep(0.3)
        if fault == "stall":
            await stall(redis_server, 7.0)
        else:
            await restart_empty(redis_server, down=1.0)
        for n in range(3):
            await sender.send("jobs", {"type": "job.run", "n": n})
        await sender.send(own, {"type": "reply", "text": "yours"})
        jobs = await asyncio.wait_for(asyncio.gather(*slots), 15)
        reply = await asyncio.wait_for(mine, 15)
        extra = asyncio.ensure_future(layer.receive("jobs"))
        await asyncio.sleep(1.0)
        assert not extra.done(), "a message was delivered twice"
        extra.cancel()
        await layer.flush()
        await sender.flush()
        return sorted(job["n"] for job in jobs), [reply["text"]]

    assert asyncio.run(scenario()) == ([0, 1, 2], ["yours"])


def test_a_pop_whose_reply_is_lost_loses_that_message_only(redis_server: RedisServer) -> None:
    """The at-most-once window that remains (README, Faults): the server popped a message
    for the blocking reader and the connection broke before the reply arrived. That one
    message is gone (Redis has no blocking pop that keeps a copy); the reader reconnects at
    once and everything after it arrives, once."""

    async def scenario() -> tuple[int, list[int]]:
        async with ReplyDropper(redis_server.port) as proxy:
            layer = RedisChannelLayer(hosts=[proxy.url])
            sender = RedisChannelLayer(hosts=[redis_server.url])
            async with _receiving(layer, "jobs") as received:
                proxy.arm(b"BZPOPMIN")
                await asyncio.sleep(0.1)
                await sender.send("jobs", {"type": "job.run", "n": 0})
                await asyncio.sleep(0.5)
                for n in range(1, 6):
                    await sender.send("jobs", {"type": "job.run", "n": n})
                await asyncio.sleep(1.5)
            await layer.flush()
            await sender.flush()
            return proxy.dropped, sorted(m["n"] for m in received["jobs"])

    dropped, numbers = asyncio.run(scenario())
    assert dropped == 1
    assert len(numbers) == len(set(numbers)) == 5  # one lost with its reply, none twice
    assert set(numbers) < set(range(6))
