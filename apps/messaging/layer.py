"""The channel layer: channels-redis with batched group sends and batched receives.

`RedisChannelLayer.group_send` costs four Redis round trips per group (expire the group, read its
members, expire the member queues, a Lua script that queues the message), each a redis-py command
on the event loop. A send batch of the message writer publishes one wake-up per message, so at a
few hundred messages per second that was most of the server's Redis time. `group_send_many` sends
any number of (group, message) pairs with one pipeline per Redis shard to read the groups and one
per shard to queue every message (the same capacity check, expiry and serialisation as
`group_send`, so consumers receive exactly what `group_send` would have given them).

Receiving has the same shape: a server process reads every message for all its sockets from one
queue, and channels-redis takes them one at a time, four round trips each (restore the in-flight
backup, pop, back the message up, clear the backup), one after the other. Under load that capped
what one process could deliver well below what it could send. `receive_single` here takes up to
RECEIVE_BATCH waiting messages in one script (restore, pop, back up, atomically) and clears the
backup once for all of them; the same crash safety (a receive cancelled mid-way leaves its
messages in the backup, put back in front of the queue by the next receive), two round trips per
batch instead of four per message. With nothing waiting it falls back to channels-redis' blocking
receive.

Order: channels-redis queues are sorted sets scored by time and popped lowest first. Messages of
one batch to one process queue get strictly increasing scores in the order given, so a
conversation's wake-ups arrive in seq order (consumers still treat order as a hint: a gap is
filled from the database).

Built on channels-redis' own helpers (`_group_key`, `_map_channel_keys_to_connection`,
`consistent_hash`, `connection`); `tests/messaging/test_layer.py` checks the result against
`group_send` so an upgrade that changes them fails there first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque

from channels_redis.core import RedisChannelLayer

logger = logging.getLogger(__name__)

# KEYS: the queues; ARGV: per key its message, capacity and score, then the expiry.
_QUEUE_LUA = """
local over = 0
local n = #KEYS
local expiry = ARGV[3 * n + 1]
for i = 1, n do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
        redis.call('ZADD', KEYS[i], ARGV[2 * n + i], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over = over + 1
    end
end
return over
"""

# KEYS: the queue and its in-flight backup; ARGV: how many to take. Returns member, score, ...
_POP_LUA = """
local backed_up = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = #backed_up, 1, -2 do
    redis.call('ZADD', KEYS[1], backed_up[i], backed_up[i - 1])
end
redis.call('DEL', KEYS[2])
local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[1])
for i = 1, #popped, 2 do
    redis.call('ZADD', KEYS[2], popped[i + 1], popped[i])
end
return popped
"""

RECEIVE_BATCH = 200
SCORE_STEP = 1e-6  # above a double's resolution at today's epoch (~2.4e-7 s)


class BatchingRedisChannelLayer(RedisChannelLayer):
    _last_score = 0.0

    def __init__(self, *args, receive_batch: int = RECEIVE_BATCH, **kwargs):
        super().__init__(*args, **kwargs)
        self.receive_batch = receive_batch
        # process-local queue name -> (channel, message) taken from Redis, not yet handed out
        self._taken: dict[str, deque] = defaultdict(deque)
        self._live: set[str] = set()  # process-local channels with a consumer
        self._readers: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}

    async def receive(self, channel):
        """One reader per process hands every socket its messages (a per-process fan-out).

        channels-redis has every waiting socket contend for one receive lock, creating and
        cancelling two tasks per socket per message delivered anywhere in the process: with a
        few hundred sockets that was a quarter of the server's CPU at load. Here each socket waits
        on its own queue; one task per event loop takes batches off the process's Redis queue and
        puts each message in the queues it is for. A socket counts from the creation of its
        channel until a receive of it is cancelled (the consumer closed); messages for sockets
        that no longer count are dropped, not kept."""
        if "!" not in channel or self.receive_batch <= 1:
            return await super().receive(channel)
        assert self.require_valid_channel_name(channel)
        real_channel = self.non_local_name(channel)
        assert real_channel.endswith(self.client_prefix + "!"), "Wrong client prefix"
        self._live.add(channel)
        loop = asyncio.get_running_loop()
        reader = self._readers.get(loop)
        if reader is None or reader.done():
            for stale in [lp for lp in self._readers if lp.is_closed()]:
                del self._readers[stale]
            self._readers[loop] = loop.create_task(self._read(real_channel))
        try:
            return await self.receive_buffer[channel].get()
        except asyncio.CancelledError:
            self._live.discard(channel)
            self.receive_buffer.pop(channel, None)
            if not self._live:
                reader = self._readers.pop(loop, None)
                if reader is not None:
                    reader.cancel()  # whatever it took is in the backup, put back by the next reader
            raise

    async def new_channel(self, prefix="specific"):
        # A consumer's channel counts from its creation: what arrives before its first receive
        # (a group joined during connect) is kept for it.
        channel = await super().new_channel(prefix)
        self._live.add(channel)
        return channel

    async def close_pools(self):
        for reader in self._readers.values():
            reader.cancel()
        self._readers.clear()
        await super().close_pools()

    async def _read(self, real_channel: str) -> None:
        while self._live:
            try:
                channel, message = await self.receive_single(real_channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarting: keep reading once it is back
                logger.exception("reading %s failed; retrying", real_channel)
                await asyncio.sleep(1.0)
                continue
            for name in channel if isinstance(channel, list) else [channel]:
                if name in self._live:
                    self.receive_buffer[name].put_nowait(message)

    async def receive_single(self, channel):
        if "!" not in channel or self.receive_batch <= 1:
            return await super().receive_single(channel)
        taken = self._taken[channel]
        if not taken:
            await self._take(channel, taken)
        if taken:
            return taken.popleft()
        return await super().receive_single(channel)  # nothing waiting: block there

    async def _take(self, channel: str, taken: deque) -> None:
        assert self.require_valid_channel_name(channel, receive=True), "Channel name invalid"
        index = self.consistent_hash(channel)
        key = self.prefix + channel
        backup = self._backup_channel_name(key)
        connection = self.connection(index)
        # The previous batch's backup is cleared before this one is taken (as channels-redis does).
        await self.receive_clean_locks.acquire(key)
        try:
            popped = await connection.eval(_POP_LUA, 2, key, backup, self.receive_batch)
        except BaseException:
            self.receive_clean_locks.release(key)
            raise
        if not popped:
            self.receive_clean_locks.release(key)
            return
        # In memory now: the backup can go (the lock keeps the next take waiting for it).
        cleaner = asyncio.ensure_future(connection.delete(backup))
        self.receive_cleaners.append(cleaner)

        def _cleaned(done):
            self.receive_cleaners.remove(done)
            self.receive_clean_locks.release(key)

        cleaner.add_done_callback(_cleaned)
        for content in popped[0::2]:
            message = self.deserialize(content)
            taken.append((message.pop("__asgi_channel__", channel), message))

    async def flush(self):
        self._taken.clear()
        self._live.clear()
        for reader in self._readers.values():
            reader.cancel()
        self._readers.clear()
        await super().flush()

    def _score(self) -> float:
        # Strictly increasing within the process, even for many messages in one clock tick.
        score = max(time.time(), self._last_score + SCORE_STEP)
        self._last_score = score
        return score

    async def group_add_many(self, groups: list[str], channel: str) -> dict[str, BaseException]:
        """Add the channel to every group: one pipeline per shard instead of two round trips per
        group (`group_add`). Returns the groups whose shard failed, with the error (a shard that
        is down must not keep the others from being joined)."""
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        by_shard: dict[int, list[str]] = defaultdict(list)
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_shard[self.consistent_hash(group)].append(group)
        now = time.time()

        async def add(index: int, shard_groups: list[str]) -> None:
            pipe = self.connection(index).pipeline(transaction=False)
            for group in shard_groups:
                pipe.zadd(self._group_key(group), {channel: now})
                pipe.expire(self._group_key(group), self.group_expiry)
            await pipe.execute()

        shards = list(by_shard.items())
        results = await asyncio.gather(*(add(i, g) for i, g in shards), return_exceptions=True)
        return {
            group: result
            for (_index, shard_groups), result in zip(shards, results, strict=True)
            if isinstance(result, BaseException)
            for group in shard_groups
        }

    async def group_send_many(self, items: list[tuple[str, dict]]) -> None:
        """Send each message to its group, in the order given, in a constant number of Redis
        round trips per shard: read every group's members, map the messages to member queues,
        queue them."""
        if not items:
            return
        for group, _message in items:
            assert self.require_valid_group_name(group), "Group name not valid"
        now = int(time.time())
        members = await self._group_members(list(dict.fromkeys(group for group, _message in items)), now)
        for index, entries in self._queue_entries(items, members).items():
            await self._queue(index, entries, now)

    async def _group_members(self, groups: list[str], now: int) -> dict[str, list[str]]:
        """Each group's live members (expired ones dropped), one pipeline per shard."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        for group in groups:
            by_shard[self.consistent_hash(group)].append(group)
        members: dict[str, list[str]] = {}
        for index, shard_groups in by_shard.items():
            pipe = self.connection(index).pipeline(transaction=False)
            for group in shard_groups:
                key = self._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=now - self.group_expiry)
                pipe.zrange(key, 0, -1)
            replies = await pipe.execute()
            for group, names in zip(shard_groups, replies[1::2], strict=True):
                members[group] = [name.decode("utf8") for name in names]
        return members

    def _queue_entries(
        self, items: list[tuple[str, dict]], members: dict[str, list[str]]
    ) -> dict[int, list[tuple[str, bytes, int, float]]]:
        """Per shard, (queue key, serialised message, capacity, score) in the order of `items`."""
        queued: dict[int, list[tuple[str, bytes, int, float]]] = defaultdict(list)
        for group, message in items:
            if not members[group]:
                continue
            by_connection, key_to_message, key_to_capacity = self._map_channel_keys_to_connection(
                members[group], message
            )
            for index, keys in by_connection.items():
                queued[index].extend((key, key_to_message[key], key_to_capacity[key], self._score()) for key in keys)
        return queued

    async def _queue(self, index: int, entries: list[tuple[str, bytes, int, float]], now: int) -> None:
        """Expire old messages of the queues, then queue every entry in one script."""
        pipe = self.connection(index).pipeline(transaction=False)
        for key in dict.fromkeys(key for key, _m, _c, _s in entries):
            pipe.zremrangebyscore(key, min=0, max=now - int(self.expiry))
        keys = [key for key, _m, _c, _s in entries]
        args: list = [m for _k, m, _c, _s in entries] + [c for _k, _m, c, _s in entries]
        args += [s for _k, _m, _c, s in entries] + [self.expiry]
        pipe.eval(_QUEUE_LUA, len(keys), *keys, *args)
        replies = await pipe.execute()
        if replies[-1]:
            logger.info("%s of %s queued messages over capacity", replies[-1], len(entries))
