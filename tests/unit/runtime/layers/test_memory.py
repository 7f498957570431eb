"""The in-memory layer as a drop-in for ``channels.layers.InMemoryChannelLayer``.

Covers what channels' own ``tests/test_inmemorychannel.py`` checks (channels does not ship it
in its sdist, so it cannot run here as the channels_redis suites do): the ``channels`` and
``groups`` attributes in the stock shapes, their clean-up on receive and on expiry, capacity,
groups and flush; and its safety across threads and event loops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer

from buildpack.runtime.layers.memory import InMemoryChannelLayer


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 10))


async def receive_within(layer: InMemoryChannelLayer, channel: str, timeout: float) -> Any:
    return await asyncio.wait_for(layer.receive(channel), timeout)


def test_it_is_a_stock_in_memory_layer_that_overrides_every_stock_method() -> None:
    assert isinstance(InMemoryChannelLayer(), StockInMemoryChannelLayer)
    stock_code = {
        name
        for name, value in vars(StockInMemoryChannelLayer).items()
        if callable(value) or isinstance(value, property)
    }
    assert "send" in stock_code and "_clean_expired" in stock_code
    # a stock method we inherit would touch state without our lock
    assert stock_code - set(vars(InMemoryChannelLayer)) == set()


def test_channels_has_the_stock_shape_and_drops_a_channel_once_it_is_empty() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer(capacity=3)
        await layer.send("c", {"type": "one"})
        await layer.send("c", {"type": "two"})
        queue = layer.channels["c"]
        assert isinstance(queue, asyncio.Queue) and queue.qsize() == 2 and queue.maxsize == 3
        expires_at, message = queue.get_nowait()
        assert message == {"type": "one"}
        assert time.time() < expires_at <= time.time() + layer.expiry
        assert (await layer.receive("c"))["type"] == "one"
        assert list(layer.channels) == ["c"]  # not empty yet
        assert (await layer.receive("c"))["type"] == "two"
        assert layer.channels == {}

        # a waiting receiver is listed (with an empty queue), as stock lists it
        waiting = asyncio.ensure_future(layer.receive("w"))
        await asyncio.sleep(0.01)
        assert layer.channels["w"].empty()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert "w" not in layer.channels  # e.g. a consumer that left its channel

    run(scenario)


def test_the_attributes_are_copies_that_cannot_corrupt_the_layer() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer()
        await layer.send("c", {"type": "kept"})
        await layer.group_add("g", "c")
        del layer.channels["c"]
        layer.channels["c"].get_nowait()
        layer.groups["g"].clear()
        assert layer.groups == {"g": {"c": pytest.approx(time.time(), abs=5)}}
        assert (await receive_within(layer, "c", 1))["type"] == "kept"

    run(scenario)


def test_expired_messages_are_dropped_by_receive_and_group_send_not_by_send() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer(expiry=0.1)  # type: ignore[arg-type]
        await layer.group_add("g", "old")
        await layer.send("old", {"type": "stale"})
        await asyncio.sleep(0.2)

        # like stock, a send cleans up nothing else: the expired message is still listed
        await layer.send("new", {"type": "fresh"})
        assert sorted(layer.channels) == ["new", "old"]
        assert "old" in layer.groups["g"]
        # a receive sweeps every channel; a channel that let a message expire leaves its groups
        assert (await layer.receive("new"))["type"] == "fresh"
        assert layer.channels == {}
        assert layer.groups == {}

        # an expired message is never received, and its channel is not left behind
        await layer.send("c", {"type": "stale"})
        await asyncio.sleep(0.2)
        with pytest.raises(asyncio.TimeoutError):
            await receive_within(layer, "c", 0.3)
        assert layer.channels == {}

        # group_send sweeps too
        await layer.send("d", {"type": "stale"})
        await asyncio.sleep(0.2)
        await layer.group_send("nobody", {"type": "x"})
        assert layer.channels == {}

    run(scenario)


def test_capacity_per_channel_counts_only_live_messages() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer(capacity=2, expiry=0.1)  # type: ignore[arg-type]
        await layer.send("c", {"type": "1"})
        await layer.send("c", {"type": "2"})
        with pytest.raises(ChannelFull):
            await layer.send("c", {"type": "3"})
        await layer.send("other", {"type": "1"})  # capacity is per channel
        await asyncio.sleep(0.2)
        await layer.send("c", {"type": "after expiry"})  # expired ones no longer count
        assert (await layer.receive("c"))["type"] == "after expiry"

    run(scenario)


def test_channel_capacity_patterns_apply() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer(capacity=3, channel_capacity={"tiny*": 1, "big": 5})
        await layer.send("tiny-a", {"type": "1"})
        with pytest.raises(ChannelFull):
            await layer.send("tiny-a", {"type": "2"})
        for n in range(5):
            await layer.send("big", {"type": str(n)})
        with pytest.raises(ChannelFull):
            await layer.send("big", {"type": "6"})
        assert layer.channels["tiny-a"].maxsize == 1 and layer.channels["big"].maxsize == 5
        assert layer.get_capacity("other") == 3

    run(scenario)


def test_groups_attribute_group_send_and_discard() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer(capacity=1)
        before = time.time()
        for channel in ("a", "b", "c"):
            await layer.group_add("g", channel)
        await layer.group_discard("g", "b")
        await layer.group_discard("g", "never-added")
        groups = layer.groups
        assert list(groups) == ["g"] and sorted(groups["g"]) == ["a", "c"]
        assert all(before <= joined <= time.time() for joined in groups["g"].values())

        await layer.send("c", {"type": "fills c"})
        await layer.group_send("g", {"type": "to group"})  # a full member misses it
        assert (await layer.receive("a"))["type"] == "to group"
        assert (await layer.receive("c"))["type"] == "fills c"
        with pytest.raises(asyncio.TimeoutError):
            await receive_within(layer, "b", 0.2)
        with pytest.raises(asyncio.TimeoutError):
            await receive_within(layer, "c", 0.2)

        await layer.group_discard("g", "a")
        await layer.group_discard("g", "c")
        assert layer.groups == {}  # an empty group is dropped, as stock drops it

    run(scenario)


def test_flush_empties_channels_and_groups() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer()
        await layer.send("c", {"type": "x"})
        await layer.group_add("g", "c")
        await layer.flush()
        assert layer.channels == {} and layer.groups == {}
        await layer.send("c", {"type": "after flush"})
        assert (await layer.receive("c"))["type"] == "after flush"
        await layer.close()

    run(scenario)


def test_the_attributes_read_consistently_while_other_threads_use_the_layer() -> None:
    layer = InMemoryChannelLayer(capacity=5)
    stop = threading.Event()
    errors: list[BaseException] = []

    async def churn(index: int) -> None:
        channel, group = f"c{index}", f"g{index}"
        while not stop.is_set():
            await layer.group_add(group, channel)
            for n in range(5):
                await layer.send(channel, {"type": "x", "n": n})
            await layer.group_send(group, {"type": "y"})  # full: skipped
            for _ in range(5):
                await layer.receive(channel)
            await layer.group_discard(group, channel)

    def worker(index: int) -> None:
        try:
            asyncio.run(churn(index))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    reads = 0
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for name, queue in layer.channels.items():
                assert name in {"c0", "c1", "c2"}
                assert 1 <= queue.qsize() <= 5  # nobody waits here: listed = holds messages
                assert all(isinstance(m, dict) for _, m in queue._queue)  # type: ignore[attr-defined]
            for group, members in layer.groups.items():
                assert list(members) == [f"c{group[1:]}"]
            reads += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    assert errors == [] and reads > 10
    assert all(not thread.is_alive() for thread in threads)
    assert layer.channels == {} and layer.groups == {}


# -- in-memory layer -------------------------------------------------------------------------


def test_memory_layer_delivers_from_other_threads_and_loops() -> None:
    async def scenario() -> list[str]:
        layer = InMemoryChannelLayer(capacity=1000)
        channel = await layer.new_channel()
        await layer.group_add("room", channel)

        def from_thread(index: int) -> None:  # a sync view / other thread: its own event loop
            asyncio.run(layer.group_send("room", {"type": "x", "id": f"t{index}"}))

        threads = [threading.Thread(target=from_thread, args=(i,)) for i in range(20)]
        started = time.monotonic()
        receive = asyncio.gather(*(layer.receive(channel) for _ in range(20)))
        await asyncio.sleep(0.05)  # receivers are waiting on this loop before threads send
        for thread in threads:
            thread.start()
        messages = await asyncio.wait_for(receive, 5)
        assert time.monotonic() - started < 5
        for thread in threads:
            thread.join()
        return sorted(m["id"] for m in messages)

    assert asyncio.run(scenario()) == sorted(f"t{i}" for i in range(20))


def test_memory_layer_semantics() -> None:
    async def scenario() -> None:
        layer = InMemoryChannelLayer(capacity=2, expiry=0.2)  # type: ignore[arg-type]
        await layer.send("c", {"type": "a"})
        await layer.send("c", {"type": "b"})
        with pytest.raises(ChannelFull):
            await layer.send("c", {"type": "overflow"})
        assert (await layer.receive("c"))["type"] == "a"
        message = {"type": "copy", "items": [1]}
        await layer.send("d", message)
        message["items"].append(2)  # messages are copied on send
        assert (await layer.receive("d"))["items"] == [1]
        # a cancelled waiter does not swallow the next message
        waiter = asyncio.ensure_future(layer.receive("e"))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await layer.send("e", {"type": "kept"})
        assert (await asyncio.wait_for(layer.receive("e"), 1))["type"] == "kept"
        # expired messages are dropped and drop their channel from groups
        await layer.group_add("g", "f!1")
        await layer.send("f!1", {"type": "old"})
        await asyncio.sleep(0.3)
        await layer.group_send("h", {"type": "tick"})  # sweeps expired messages
        assert layer.group_members("g") == []

    asyncio.run(scenario())
