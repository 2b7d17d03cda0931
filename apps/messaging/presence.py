"""Live connections per recipient, in Redis: the one record of who can be reached over a
websocket right now (offline push decides on it; dispatch decides on it when an agent's last
socket goes).

One sorted set per recipient ("v{customer_id}" or "a{user_id}"), member = the connection's
channel name, score = last sign of life (unix seconds). A connection counts while it was seen
within STALE_AFTER seconds, so a crashed server process stops counting without any cleanup
(clients ping at least every 30 s; any frame refreshes). Durable facts (an agent's grace period,
status) live in the database (apps.routing), written only when the live count changes between
zero and not zero, never on a heartbeat.
"""

from __future__ import annotations

import time

from django.conf import settings
from django_redis import get_redis_connection

STALE_AFTER = 90

# KEYS: the set; ARGV: channel name, oldest live score. Removes the connection, returns how many
# live ones are left, in one step (two sockets of one agent closing together: exactly the last
# one sees 0).
_GONE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZCOUNT', KEYS[1], ARGV[2], '+inf')
"""


def _key(recipient: str) -> str:
    return f"{getattr(settings, 'REDIS_PREFIX', 'kefu')}:im:conn:{recipient}"


def visitor_key(customer_id: int) -> str:
    return f"v{customer_id}"


def agent_key(user_id: int) -> str:
    return f"a{user_id}"


def _redis():
    return get_redis_connection("default")


def connection_seen(recipient: str, channel_name: str, *, at: float | None = None) -> bool:
    """Record a sign of life; True when the connection did not count before (new, or stale)."""
    key = _key(recipient)
    now = time.time() if at is None else at
    pipe = _redis().pipeline(transaction=False)
    pipe.zremrangebyscore(key, "-inf", now - STALE_AFTER)
    pipe.zadd(key, {channel_name: now})
    pipe.expire(key, STALE_AFTER * 2)
    return bool(pipe.execute()[1])


def connection_gone(recipient: str, channel_name: str) -> int:
    """Forget the connection; the number of live connections the recipient still has."""
    return int(_redis().eval(_GONE_LUA, 1, _key(recipient), channel_name, time.time() - STALE_AFTER))


def live_connections(recipient: str, *, at: float | None = None) -> int:
    return live_counts([recipient], at=at)[0]


def live_counts(recipients: list[str], *, at: float | None = None) -> list[int]:
    """Live connections of each recipient (seen within STALE_AFTER of `at`), one round trip."""
    if not recipients:
        return []
    oldest = (time.time() if at is None else at) - STALE_AFTER
    pipe = _redis().pipeline(transaction=False)
    for recipient in recipients:
        pipe.zcount(_key(recipient), oldest, "+inf")
    return [int(n) for n in pipe.execute()]
