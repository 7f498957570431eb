"""Issue 11, in one process: few Redis clients by design, and refusals that lose nothing.

A real ``redis-server``; the layer under test runs in this process, so the clients it
holds are the server's clients minus the test's own admin connection.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest

from buildpack.runtime.layers.connections import IDLE_TRIM_SECONDS
from buildpack.runtime.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from buildpack.runtime.layers.resilience import is_certificate_error
from tests.support.clients import ADMIN_NAME, ClientSampler, server_clients
from tests.support.redis import RedisServer

pytestmark = pytest.mark.redis


def peak_clients(redis: RedisServer) -> ClientSampler:
    """Poll the server's clients (the admin connection not counted) every 3 ms."""
    admin = redis.client(client_name=ADMIN_NAME)
    return ClientSampler({}, redis.port, admin=admin, interval=0.003)


def clients_now(watch: ClientSampler) -> int:
    return server_clients(watch.admin)


@pytest.fixture
def loop_errors() -> Iterator[list[dict[str, Any]]]:
    """Exceptions asyncio would report ("Task exception was never retrieved", ...)."""
    found: list[dict[str, Any]] = []
    original = asyncio.events.new_event_loop

    def recording_loop() -> asyncio.AbstractEventLoop:
        loop = original()
        loop.set_exception_handler(lambda _loop, context: found.append(context))
        return loop

    asyncio.events.new_event_loop = recording_loop
    try:
        yield found
    finally:
        asyncio.events.new_event_loop = original
        gc.collect()  # unreferenced failed tasks report now, not in another test


def test_loop_errors_sees_a_task_exception_nobody_retrieved(
    loop_errors: list[dict[str, Any]],
) -> None:
    async def fail() -> None:
        raise ConnectionError("max number of clients reached")

    async def scenario() -> None:
        asyncio.ensure_future(fail())  # noqa: RUF006 - dropped on purpose
        await asyncio.sleep(0.05)
        gc.collect()

    asyncio.run(scenario())
    gc.collect()
    assert [c["message"] for c in loop_errors] == ["Task exception was never retrieved"]


def test_one_blocked_reader_whatever_the_number_of_channels_and_consumers(
    redis_server: RedisServer,
) -> None:
    """3 background channels x 8 free slots + 20 consumers' own channels: ONE BZPOPMIN;
    then each message still reaches exactly one receive."""

    async def scenario() -> tuple[int, int, int, list[str]]:
        layer = RedisChannelLayer(hosts=[redis_server.url], capacity=1000)
        watch = peak_clients(redis_server)
        channels = ["jobs", "thumbs", "mails"]
        queued = [asyncio.ensure_future(layer.receive(c)) for c in channels for _ in range(8)]
        names = [await layer.new_channel() for _ in range(20)]
        local = [asyncio.ensure_future(layer.receive(name)) for name in names]
        await asyncio.sleep(0.5)
        blocked = int(watch.admin.info("clients")["blocked_clients"])
        held = clients_now(watch)
        for index, channel in enumerate(channels * 8):
            await layer.send(channel, {"type": "job", "id": f"{channel}-{index}"})
        for index, name in enumerate(names):
            await layer.send(name, {"type": "own", "id": f"own-{index}"})
        got = [m["id"] for m in await asyncio.wait_for(asyncio.gather(*queued, *local), 10)]
        peak = clients_now(watch)
        await layer.close_pools()
        return blocked, held, peak, got

    blocked, held, peak, got = asyncio.run(scenario())
    assert blocked == 1
    assert held <= 3 and peak <= 3, "the reader and at most 2 command connections"
    assert len(got) == len(set(got)) == 44


def test_a_burst_stays_within_the_budget_and_idle_connections_are_closed(
    redis_server: RedisServer,
) -> None:
    """300 sockets' worth of group_add/send/group_discard at once: never more than the
    budget (3: reader + 2 commands), and 2 again once the burst is over."""

    async def scenario(watch: ClientSampler) -> tuple[int, int]:
        layer = RedisChannelLayer(hosts=[redis_server.url], capacity=1000)
        names = [await layer.new_channel() for _ in range(300)]
        receive = asyncio.ensure_future(layer.receive(names[0]))  # the reader is up
        await asyncio.gather(*(layer.group_add("burst", n) for n in names))
        await asyncio.gather(*(layer.send("jobs", {"type": "x", "i": i}) for i in range(300)))
        await layer.group_send("burst", {"type": "hello"})
        assert (await asyncio.wait_for(receive, 5))["type"] == "hello"
        await asyncio.gather(*(layer.group_discard("burst", n) for n in names))
        await asyncio.sleep(IDLE_TRIM_SECONDS + 1.5)
        after = clients_now(watch)
        members = int(await layer.connection(0).zcard("asgi:group:burst"))
        await layer.close_pools()
        return after, members

    with peak_clients(redis_server) as watch:
        after, members = asyncio.run(scenario(watch))
    assert watch.result.server_peak <= 3, watch.result.server_peak
    assert after <= 2
    assert members == 0, "every group_discard of the burst ran"


def test_pubsub_layer_publishes_through_the_shared_pool(redis_server: RedisServer) -> None:
    """Pub/sub: the subscription + a command connection at rest, 3 at most in a burst."""

    async def scenario(watch: ClientSampler) -> tuple[int, list[str]]:
        layer = RedisPubSubChannelLayer(hosts=[redis_server.url], capacity=1000)
        names = [await layer.new_channel() for _ in range(100)]
        await asyncio.gather(*(layer.group_add("room", n) for n in names))
        await asyncio.gather(*(layer.send("jobs", {"type": "x", "i": i}) for i in range(100)))
        await asyncio.sleep(0.2)
        await layer.group_send("room", {"type": "hello", "id": "g"})
        got = [m["id"] for m in await asyncio.gather(*(layer.receive(n) for n in names))]
        await asyncio.sleep(IDLE_TRIM_SECONDS + 1.5)
        after = clients_now(watch)
        await layer.flush()
        return after, got

    with peak_clients(redis_server) as watch:
        after, got = asyncio.run(scenario(watch))
    assert got == ["g"] * 100
    assert watch.result.server_peak <= 3, watch.result.server_peak
    assert after <= 2


def test_sends_and_group_operations_wait_out_a_refusal(
    redis_server: RedisServer, loop_errors: list[dict[str, Any]]
) -> None:
    """Redis refuses new clients (maxclients reached) for 2 s: a fresh process's sends,
    group operations and receives wait and complete after it; nothing is raised, lost or
    left as an unretrieved task exception."""
    admin = redis_server.client()

    async def scenario() -> tuple[float, list[str], int]:
        layer = RedisChannelLayer(hosts=[redis_server.url], capacity=1000)
        admin.config_set("maxclients", server_clients(admin) + 1)  # the admin's own slot
        started = time.monotonic()
        name = await layer.new_channel()
        work = asyncio.gather(
            *(layer.send("jobs", {"type": "job", "id": f"j{i}"}) for i in range(50)),
            layer.group_add("room", name),
        )
        await asyncio.sleep(2.0)
        assert not work.done(), "nothing could reach Redis during the refusal"
        admin.config_set("maxclients", 10000)
        await asyncio.wait_for(work, 30)
        waited = time.monotonic() - started
        await layer.group_send("room", {"type": "hello", "id": "group"})
        got = [(await asyncio.wait_for(layer.receive("jobs"), 5))["id"] for _ in range(50)]
        got.append((await asyncio.wait_for(layer.receive(name), 5))["id"])
        await layer.close_pools()
        return waited, got, int(admin.info("stats")["rejected_connections"])

    waited, got, rejected = asyncio.run(scenario())
    assert waited >= 2.0
    assert sorted(got) == sorted([f"j{i}" for i in range(50)] + ["group"])
    assert rejected > 0, "Redis did refuse connections"
    assert loop_errors == []


def test_a_reader_waiting_out_a_refusal_leaves_no_task_exception(
    redis_server: RedisServer, loop_errors: list[dict[str, Any]]
) -> None:
    """The reader needs a new connection (and a wake token) while Redis refuses: it backs
    off, and the message sent after the refusal arrives."""
    admin = redis_server.client()

    async def scenario() -> str:
        layer = RedisChannelLayer(hosts=[redis_server.url], capacity=1000)
        first = asyncio.ensure_future(layer.receive("a"))  # reader up, blocked on "a"
        await asyncio.sleep(0.3)
        admin.config_set("maxclients", server_clients(admin) + 1)
        admin.client_kill_filter(_type="normal", skipme=True)  # every connection of ours
        second = asyncio.ensure_future(layer.receive("b"))  # needs a wake: refused
        await asyncio.sleep(1.5)
        admin.config_set("maxclients", 10000)
        sender = RedisChannelLayer(hosts=[redis_server.url])
        await sender.send("b", {"type": "x", "id": "after"})
        message = await asyncio.wait_for(second, 15)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await sender.close_pools()
        await layer.close_pools()
        return str(message["id"])

    assert asyncio.run(scenario()) == "after"
    assert loop_errors == []


def test_a_receive_cancelled_as_its_message_arrives_leaves_no_phantom_demand(
    redis_server: RedisServer,
) -> None:
    """The reader may meet a waiter whose receive was cancelled before that receive ran its
    clean-up: the message goes back, and the channel is not wanted any more (a leftover
    demand would make the reader pop and put back the channel's messages forever)."""

    async def scenario() -> tuple[bool, int, list[str], dict[str, Any]]:
        layer = RedisChannelLayer(hosts=[redis_server.url])
        waiting = asyncio.ensure_future(layer.receive("jobs"))
        await asyncio.sleep(0.3)  # no message: registered with the reader
        receiver = layer.receiver()
        waiting.cancel()  # its future is cancelled now; the task's clean-up runs later
        taken = receiver.take("asgijobs", (b"not-delivered", 1.0, 0))
        await asyncio.gather(waiting, return_exceptions=True)
        await layer.send("jobs", {"type": "job", "id": "next"})
        message = await asyncio.wait_for(layer.receive("jobs"), 5)
        state = (receiver.waiting_on("asgijobs"), receiver.wanted_keys(0))
        await layer.close_pools()
        return taken, state[0], state[1], message

    taken, waiting_on, wanted, message = asyncio.run(scenario())
    assert taken is False, "nobody could take it: the caller puts it back"
    assert waiting_on == 0 and wanted == []
    assert message["id"] == "next"


@pytest.mark.parametrize("layer_class", [RedisChannelLayer, RedisPubSubChannelLayer])
def test_an_untrusted_certificate_is_raised_at_once_not_retried_until_the_expiry(
    tls_redis: Any, layer_class: type
) -> None:
    # Retrying rides out refusals and outages; a certificate never becomes trusted by waiting.
    async def scenario() -> BaseException:
        layer = layer_class(hosts=[tls_redis.url], expiry=60)
        with pytest.raises(Exception) as raised:
            await asyncio.wait_for(layer.send("jobs", {"type": "x"}), 10)
        return raised.value

    error = asyncio.run(scenario())
    assert not isinstance(error, (TimeoutError, asyncio.TimeoutError)), "retried, not raised"
    assert is_certificate_error(error), repr(error)
