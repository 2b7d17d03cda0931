"""The IM layer's database threads: the event loop's default pool, sized for websockets.

asyncio's default pool has min(32, cores + 4) threads: 6 on two cores. A websocket's database
calls (handshakes, frames, heartbeats, the message writer's batches) mostly wait - on MariaDB's
answer, on its log flush - so six threads were six calls in flight per process, and in a
reconnect storm every handshake, subscribe and heartbeat queued behind them (py-spy at 1,200
sockets: two thirds of daphne's samples were threads of that pool waiting in `Connection.query`,
while the event loop had little to do). More threads keep more calls in flight, and MariaDB's
group commit flushes their commits together. Each thread keeps its own connection
(CONN_MAX_AGE), so a process opens up to IM_DB_THREADS connections.

The pool stays the loop's own (set the first time the loop makes an IM database call), so it
ends with its loop as asyncio's default one does.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async

IM_DB_THREADS = int(os.environ.get("IM_DB_THREADS", "16"))

_sized: weakref.WeakSet = weakref.WeakSet()


def _ensure_pool() -> None:
    loop = asyncio.get_running_loop()
    if loop not in _sized:
        _sized.add(loop)
        loop.set_default_executor(ThreadPoolExecutor(max_workers=IM_DB_THREADS, thread_name_prefix="im-db"))


def im_db(fn):
    """`database_sync_to_async` on the loop's pool (not the one thread-sensitive thread)."""
    call = database_sync_to_async(fn, thread_sensitive=False)

    async def run(*args, **kwargs):
        _ensure_pool()
        return await call(*args, **kwargs)

    return run
