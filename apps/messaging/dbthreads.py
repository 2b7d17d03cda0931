"""The IM layer's database threads: one pool per server process for every websocket database call
(handshakes, frames, heartbeats, the message writer's batches).

asyncio's default pool has min(32, cores + 4) threads: 6 on two cores. A websocket's database
calls mostly wait - on MariaDB's answer, on its log flush - so six threads were six calls in
flight per process, and in a reconnect storm every handshake, subscribe and heartbeat queued
behind them (py-spy at 1,200 sockets: two thirds of daphne's samples were threads of that pool
waiting in `Connection.query`, while the event loop had little to do). More threads keep more
calls in flight, and MariaDB's group commit flushes their commits together. Each thread keeps
its own connection (CONN_MAX_AGE), so a process opens up to IM_DB_THREADS connections.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async

IM_DB_THREADS = int(os.environ.get("IM_DB_THREADS", "16"))

# Threads start on demand, so importing this costs nothing.
executor = ThreadPoolExecutor(max_workers=IM_DB_THREADS, thread_name_prefix="im-db")


def im_db(fn):
    """`database_sync_to_async` on the IM pool (not the one thread-sensitive thread)."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=executor)
