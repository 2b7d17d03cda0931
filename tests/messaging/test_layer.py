"""The batched group send of the project's channel layer, against channels-redis' own on real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
import time_machine
from django.conf import settings

from apps.messaging.layer import BatchingRedisChannelLayer


def _layer(**extra) -> BatchingRedisChannelLayer:
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return BatchingRedisChannelLayer(
        hosts=config["hosts"], prefix=f"{config['prefix']}-{uuid.uuid4().hex[:8]}", **extra
    )


async def _drain(layer, channel, n: int) -> list[dict]:
    return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(n)]


async def _nothing_more(layer, channel) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), 0.3)
    except TimeoutError:
        return True
    return False


async def test_group_send_many_delivers_what_group_send_delivers():
    layer = _layer()
    # Two "server processes" (process-local channels of two layers on one prefix) and a plain channel.
    other = BatchingRedisChannelLayer(hosts=layer.hosts, prefix=layer.prefix)
    a1, a2 = await layer.new_channel(), await layer.new_channel()
    b1 = await other.new_channel()
    for group, channel in [("g1", a1), ("g1", b1), ("g2", a2), ("g2", b1), ("g3", a1)]:
        await layer.group_add(group, channel)
    try:
        await layer.group_send("g1", {"type": "x", "n": 0})
        expected = {a1: await _drain(layer, a1, 1), b1: await _drain(other, b1, 1)}
        await layer.group_send_many([("g1", {"type": "x", "n": 0})])
        got = {a1: await _drain(layer, a1, 1), b1: await _drain(other, b1, 1)}
        assert got == expected == {a1: [{"type": "x", "n": 0}], b1: [{"type": "x", "n": 0}]}

        await layer.group_send_many(
            [("g1", {"type": "x", "n": 1}), ("g2", {"type": "x", "n": 2}), ("empty", {"type": "x", "n": 3})]
        )
        assert await _drain(layer, a1, 1) == [{"type": "x", "n": 1}]
        assert await _drain(layer, a2, 1) == [{"type": "x", "n": 2}]
        assert await _drain(other, b1, 2) == [{"type": "x", "n": 1}, {"type": "x", "n": 2}]
        assert await _nothing_more(layer, a1) and await _nothing_more(other, b1)
    finally:
        await layer.flush()
        await other.close_pools()


async def test_a_batch_arrives_in_the_order_sent_on_every_socket():
    layer = _layer(capacity=1000)
    a, b = await layer.new_channel(), await layer.new_channel()
    try:
        # The clock stands still: order must not depend on time passing between two queue writes.
        with time_machine.travel(dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC), tick=False):
            for i in range(5):
                await layer.group_add(f"conv{i}", a)
                await layer.group_add(f"conv{i}", b)
            items = [(f"conv{n % 5}", {"type": "x", "n": n}) for n in range(400)]
            await layer.group_send_many(items)
        got_a = [m["n"] for m in await _drain(layer, a, 400)]
        got_b = [m["n"] for m in await _drain(layer, b, 400)]
        assert got_a == got_b == list(range(400))
    finally:
        await layer.flush()


async def test_group_send_many_respects_the_channel_capacity():
    layer = _layer(capacity=3)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    try:
        await layer.group_send_many([("g", {"type": "x", "n": n}) for n in range(5)])
        assert [m["n"] for m in await _drain(layer, channel, 3)] == [0, 1, 2]
        assert await _nothing_more(layer, channel)
    finally:
        await layer.flush()


@pytest.mark.parametrize("bad", ["", "has space", "x" * 200])
async def test_group_send_many_refuses_an_invalid_group_name(bad):
    layer = _layer()
    with pytest.raises(Exception):  # noqa: B017, PT011 - channels raises TypeError or AssertionError
        await layer.group_send_many([(bad, {"type": "x"})])


async def test_receive_takes_waiting_messages_in_batches_in_order():
    layer = _layer(capacity=1000, receive_batch=50)
    sender = BatchingRedisChannelLayer(hosts=layer.hosts, prefix=layer.prefix, capacity=1000)
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", a)
    await layer.group_add("g", b)
    await layer.group_add("only-b", b)
    try:
        for n in range(120):
            await sender.group_send("g" if n % 3 else "only-b", {"type": "x", "n": n})
        got_a = [m["n"] for m in await _drain(layer, a, 80)]
        got_b = [m["n"] for m in await _drain(layer, b, 120)]
        assert got_a == [n for n in range(120) if n % 3]
        assert got_b == list(range(120))
        assert await _nothing_more(layer, a) and await _nothing_more(layer, b)
        # Nothing left behind in the in-flight backup once everything was handed out.
        await asyncio.sleep(0.1)
        key = layer.prefix + layer.non_local_name(a)
        assert await layer.connection(0).zcard(layer._backup_channel_name(key)) == 0
        # A message sent while a receive blocks on the empty queue still arrives.
        waiting = asyncio.ensure_future(layer.receive(a))
        await asyncio.sleep(0.2)
        await sender.group_send("g", {"type": "x", "n": 999})
        assert (await asyncio.wait_for(waiting, 5))["n"] == 999
    finally:
        await layer.flush()
        await sender.close_pools()


async def test_a_cancelled_receive_loses_nothing():
    layer = _layer(capacity=1000, receive_batch=50)
    a = await layer.new_channel()
    await layer.group_add("g", a)
    try:
        await layer.group_send_many([("g", {"type": "x", "n": n}) for n in range(10)])
        key = layer.prefix + layer.non_local_name(a)
        # Taken into the backup by a receive that was then cancelled (its process died, say):
        popped = await layer.connection(0).eval(
            "local p = redis.call('ZPOPMIN', KEYS[1], 3) for i = 1, #p, 2 do redis.call('ZADD', KEYS[2], p[i+1], p[i]) end",
            2,
            key,
            layer._backup_channel_name(key),
        )
        assert popped is None
        assert [m["n"] for m in await _drain(layer, a, 10)] == list(range(10))
    finally:
        await layer.flush()


async def test_group_add_many_joins_like_group_add_and_names_the_groups_of_a_shard_that_is_down():
    layer = _layer()
    try:
        channel = await layer.new_channel()
        assert await layer.group_add_many(["m1", "m2", "m3"], channel) == {}
        await layer.group_send_many([("m1", {"type": "x", "n": 1}), ("m3", {"type": "x", "n": 3})])
        assert await _drain(layer, channel, 2) == [{"type": "x", "n": 1}, {"type": "x", "n": 3}]
        # Two shards, the second unreachable: its groups are reported, the first's are joined.
        live = layer.hosts[0]
        split = BatchingRedisChannelLayer(hosts=[live, {"address": "redis://127.0.0.1:1/0"}], prefix=layer.prefix)
        groups = [f"split.group.{i}" for i in range(32)]
        down = {g for g in groups if split.consistent_hash(g) == 1}
        assert down and len(down) < len(groups)
        failed = await split.group_add_many(groups, channel)
        assert set(failed) == down
        for group in set(groups) - down:
            assert channel.encode() in await split.connection(0).zrange(split._group_key(group), 0, -1)
        await split.close_pools()
    finally:
        await layer.flush()
