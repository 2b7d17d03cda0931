"""Live connections per recipient, in Redis: who can be reached over a websocket right now.

One sorted set per recipient ("v{customer_id}" or "a{user_id}"), member = the connection's
channel name, score = last sign of life. A connection counts while it was seen within
STALE_AFTER seconds, so a crashed server process stops counting without any cleanup (clients
ping at least every 30 s; any frame refreshes). Used to decide on offline push.
"""

from __future__ import annotations

import time

from django.conf import settings
from django_redis import get_redis_connection

STALE_AFTER = 90


def _key(recipient: str) -> str:
    return f"{getattr(settings, 'REDIS_PREFIX', 'kefu')}:im:conn:{recipient}"


def visitor_key(customer_id: int) -> str:
    return f"v{customer_id}"


def agent_key(user_id: int) -> str:
    return f"a{user_id}"


def _redis():
    return get_redis_connection("default")


def connection_seen(recipient: str, channel_name: str) -> None:
    key = _key(recipient)
    now = time.time()
    pipe = _redis().pipeline(transaction=False)
    pipe.zadd(key, {channel_name: now})
    pipe.zremrangebyscore(key, "-inf", now - STALE_AFTER)
    pipe.expire(key, STALE_AFTER * 2)
    pipe.execute()


def connection_gone(recipient: str, channel_name: str) -> None:
    _redis().zrem(_key(recipient), channel_name)


def live_connections(recipient: str) -> int:
    return int(_redis().zcount(_key(recipient), time.time() - STALE_AFTER, "+inf"))
