"""Our Redis channel layers (core and pub/sub) against a real Redis server."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from typing import Any

import pytest

from buildpack.runtime.layers.redis import (
    CONNECT_TIMEOUT,
    SOCKET_TIMEOUT_MARGIN,
    RedisChannelLayer,
    RedisPubSubChannelLayer,
    harden_hosts,
    receive_exactly_once,
)
from tests.support.layers import disconnect_round
from tests.support.redis import RedisServer


async def _drain(receivers: list[Any], channel: str, expected: int, timeout: float) -> Counter[str]:
    """Run concurrent receivers until *expected* messages arrived; count ids."""
    seen: Counter[str] = Counter()
    done = asyncio.Event()

    async def loop(receive: Any) -> None:
        while not done.is_set():
            message = await receive(channel)
            seen[message["id"]] += 1
            if sum(seen.values()) >= expected:
                done.set()

    tasks = [asyncio.ensure_future(loop(r)) for r in receivers]
    try:
        await asyncio.wait_for(done.wait(), timeout)
        await asyncio.sleep(1.0)  # a duplicate would arrive now
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return seen


# -- Redis core layer ---------------------------------------------------------------------


@pytest.mark.redis
def test_core_layer_gives_each_message_to_one_reader(redis_server: RedisServer) -> None:
    async def scenario() -> Counter[str]:
        # Two layer instances = two worker processes (distinct client prefixes), 3 readers each.
        layers = [RedisChannelLayer(hosts=[redis_server.url], capacity=1000) for _ in range(2)]
        receivers = [layer.receive for layer in layers for _ in range(3)]
        sender = RedisChannelLayer(hosts=[redis_server.url], capacity=1000)
        for index in range(300):
            await sender.send("jobs", {"type": "job", "id": str(index)})
        seen = await _drain(receivers, "jobs", 300, 30)
        for layer in [*layers, sender]:
            await layer.close_pools()
        return seen

    seen = asyncio.run(scenario())
    assert len(seen) == 300
    assert set(seen.values()) == {1}


@pytest.mark.redis
def test_a_process_message_popped_in_one_loop_is_received_in_the_next(
    redis_server: RedisServer,
) -> None:
    """Sync code (``async_to_sync``) runs each call in a fresh event loop: a message for
    another of this process's channels, popped along the way, waits in the layer's buffer."""
    layer = RedisChannelLayer(hosts=[redis_server.url], capacity=3)
    first, second = (asyncio.run(layer.new_channel()) for _ in range(2))

    async def send(channel: str, kind: str) -> None:
        await layer.send(channel, {"type": kind})
        await layer.close_pools()

    async def receive(channel: str) -> str:
        try:
            message = await asyncio.wait_for(layer.receive(channel), 5)
        finally:
            await layer.close_pools()
        return str(message["type"])

    asyncio.run(send(first, "one"))
    asyncio.run(send(second, "two"))
    assert asyncio.run(receive(second)) == "two"  # pops both: one is buffered
    assert asyncio.run(receive(first)) == "one"


@pytest.mark.redis
def test_a_cancelled_receive_never_loses_a_message(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[int, int]:
        layer = RedisChannelLayer(hosts=[redis_server.url], capacity=1000)
        received = 0
        rng = random.Random(7)
        for index in range(150):
            task = asyncio.ensure_future(layer.receive("race"))
            await asyncio.sleep(rng.uniform(0, 0.004))
            await layer.send("race", {"type": "job", "id": str(index)})
            await asyncio.sleep(rng.uniform(0, 0.004))
            task.cancel()
            try:
                await task
                received += 1  # it completed before the cancel
            except asyncio.CancelledError:
                pass
        await asyncio.sleep(0.2)  # let put-backs land
        while True:
            try:
                await asyncio.wait_for(layer.receive("race"), 0.5)
                received += 1
            except asyncio.TimeoutError:
                break
        await layer.close_pools()
        return received, 150

    received, sent = asyncio.run(scenario())
    assert received == sent


@pytest.mark.redis
def test_exactly_once_receive_works_on_a_stock_layer_instance(redis_server: RedisServer) -> None:
    from channels_redis.core import RedisChannelLayer as Stock

    async def scenario() -> Counter[str]:
        stock = [Stock(hosts=[redis_server.url], capacity=1000) for _ in range(2)]
        for index in range(100):
            await stock[0].send("jobs", {"type": "job", "id": str(index)})

        def receiver(layer: Any) -> Any:
            return lambda channel: receive_exactly_once(layer, channel)

        seen = await _drain([receiver(layer) for layer in stock for _ in range(2)], "jobs", 100, 30)
        for layer in stock:
            await layer.close_pools()
        return seen

    seen = asyncio.run(scenario())
    assert len(seen) == 100 and set(seen.values()) == {1}


@pytest.mark.redis
def test_our_layer_and_the_stock_layer_read_each_others_messages(
    redis_server: RedisServer,
) -> None:
    """Same keys, members and scores as channels_redis: stock readers get what we send
    (background and process channels, groups), and we get what stock sends."""
    from channels_redis.core import RedisChannelLayer as Stock

    async def scenario() -> list[str]:
        ours = RedisChannelLayer(hosts=[redis_server.url])
        stock = Stock(hosts=[redis_server.url])
        got = []
        await ours.send("jobs", {"type": "x", "id": "ours-to-stock"})
        got.append((await asyncio.wait_for(stock.receive("jobs"), 5))["id"])
        theirs = await stock.new_channel()
        await ours.send(theirs, {"type": "x", "id": "ours-to-stock-channel"})
        got.append((await asyncio.wait_for(stock.receive(theirs), 5))["id"])
        await stock.group_add("room", theirs)
        mine = await ours.new_channel()
        await ours.group_add("room", mine)
        await ours.group_send("room", {"type": "x", "id": "group"})
        got.append((await asyncio.wait_for(stock.receive(theirs), 5))["id"])
        got.append((await asyncio.wait_for(ours.receive(mine), 5))["id"])
        await stock.send("jobs", {"type": "x", "id": "stock-to-ours"})
        got.append((await asyncio.wait_for(ours.receive("jobs"), 5))["id"])
        await stock.send(mine, {"type": "x", "id": "stock-to-our-channel"})
        got.append((await asyncio.wait_for(ours.receive(mine), 5))["id"])
        for layer in (ours, stock):
            await layer.close_pools()
        return got

    assert asyncio.run(scenario()) == [
        "ours-to-stock",
        "ours-to-stock-channel",
        "group",
        "group",
        "stock-to-ours",
        "stock-to-our-channel",
    ]


@pytest.mark.redis
def test_a_burst_beyond_the_pool_size_waits_instead_of_failing(redis_server: RedisServer) -> None:
    async def scenario() -> int:
        layer = RedisChannelLayer(hosts=[{"address": redis_server.url, "max_connections": 10}])
        channels = [f"specific.x!{i}" for i in range(300)]
        await asyncio.gather(*(layer.group_add("burst", c) for c in channels))
        await asyncio.gather(*(layer.group_discard("burst", c) for c in channels[:200]))
        count: int = await layer.connection(0).zcard(b"asgi:group:burst")
        await layer.close_pools()
        return count

    assert asyncio.run(scenario()) == 100


def test_harden_hosts_fills_timeouts_and_fixes_the_idle_crash() -> None:
    hosts = [{"address": "redis://h:1"}, {"host": "h", "port": 2, "socket_timeout": 5}]
    notes = harden_hosts(hosts, brpop_timeout=5)
    for host in hosts:
        assert host["socket_timeout"] == 5 + SOCKET_TIMEOUT_MARGIN
        assert host["socket_connect_timeout"] == CONNECT_TIMEOUT
        assert host["socket_keepalive"] is True
        assert host["retry"].get_retries() == 2
    assert len(notes) == 1 and "socket_timeout=5" in notes[0]
    explicit = [{"address": "redis://h:1", "socket_timeout": 60}]
    assert harden_hosts(explicit, 5) == [] and explicit[0]["socket_timeout"] == 60
    sentinel = [{"sentinels": [("h", 26379)], "master_name": "m"}]
    harden_hosts(sentinel, 5)
    assert sentinel == [{"sentinels": [("h", 26379)], "master_name": "m"}]


# -- pub/sub layer ---------------------------------------------------------------------------


@pytest.mark.redis
def test_pubsub_layer_background_channels_are_exactly_once_and_groups_fan_out(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> tuple[Counter[str], list[str]]:
        layers = [
            RedisPubSubChannelLayer(hosts=[redis_server.url], capacity=1000) for _ in range(3)
        ]
        for index in range(120):
            await layers[0].send("jobs", {"type": "job", "id": str(index)})
        seen = await _drain(
            [layer.receive for layer in layers[1:] for _ in range(2)], "jobs", 120, 30
        )
        # groups still go through pub/sub, to every member in every process
        members = [await layer.new_channel() for layer in layers]
        assert all("!" in name for name in members)
        for layer, name in zip(layers, members, strict=True):
            await layer.group_add("room", name)
        await asyncio.sleep(0.2)  # subscriptions settle
        await layers[0].group_send("room", {"type": "chat", "id": "hello"})
        got = [
            (await asyncio.wait_for(layer.receive(name), 5))["id"]
            for layer, name in zip(layers, members, strict=True)
        ]
        for layer in layers:
            await layer.flush()
        return seen, got

    seen, got = asyncio.run(scenario())
    assert len(seen) == 120 and set(seen.values()) == {1}
    assert got == ["hello", "hello", "hello"]


@pytest.mark.redis
def test_cancelled_consumers_stop_receiving_promptly(redis_server: RedisServer) -> None:
    """40 consumers of one process disconnecting one after another must all finish.

    On Python <= 3.11 redis-py's wait_for can swallow the cancel of a process-channel
    receive; channels_redis then loops on BZPOPMIN (stock: until a 5 s timeout error; with
    a longer socket_timeout: forever). A graceful web shutdown waited on exactly that.
    """

    async def scenario() -> list[int]:
        layer = RedisChannelLayer(hosts=[redis_server.url])
        still_running = []
        for _ in range(4):
            # well inside the 5 s blocking read: cancellations were delivered, not waited out
            _, pending = await disconnect_round(layer, 40, settle=0.3, timeout=2.5)
            still_running.append(pending)
        await layer.close_pools()
        return still_running

    assert asyncio.run(scenario()) == [0, 0, 0, 0]


def test_cancelled_receive_leaves_one_reader_and_leaks_no_message(
    redis_server: RedisServer,
) -> None:
    """Consumers of a process come and go; the process keeps ONE blocked client in Redis
    (its reader), and the next consumer gets only real messages, at once."""
    import redis

    async def scenario() -> tuple[list[int], dict[str, str]]:
        layer = RedisChannelLayer(hosts=[redis_server.url])
        client = redis.Redis.from_url(redis_server.url)
        blocked = []
        for _ in range(5):
            name = await layer.new_channel()
            receive = asyncio.ensure_future(layer.receive(name))
            await asyncio.sleep(0.2)
            blocked.append(int(client.info("clients")["blocked_clients"]))
            receive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receive
        client.close()
        second = await layer.new_channel()
        await layer.send(second, {"type": "real.message", "text": "hello"})
        message = await asyncio.wait_for(layer.receive(second), timeout=3)
        await layer.close_pools()
        return blocked, message

    blocked, message = asyncio.run(scenario())
    assert blocked == [1, 1, 1, 1, 1]  # one reader, however many receives came and went
    assert message == {"type": "real.message", "text": "hello"}
