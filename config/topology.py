"""The deployment's shape, read from the environment in this one place.

`config/settings/base.py` (and so `production.py`) builds its channel layer, databases and Celery
queues from these functions; `docker/compose.yml` and the local topology (`bench/topology/`) set
the same variables:

| variable | meaning |
|---|---|
| `CHANNEL_REDIS_URLS` | comma-separated Redis URLs the channel layer shards over (channels-redis `hosts`: groups and channels are spread by a consistent hash of their name). Empty: the channel layer uses `REDIS_URL`. |
| `DATABASE_REPLICA_URL` | a read replica of `DATABASE_URL` (same schema, replicating from it). Reads that may be slightly stale (reports, history, search, exports) go there; see `apps/core/replica.py`. |
| `REPLICA_MAX_LAG_SECONDS` | reads fall back to the primary when the replica is further behind than this (5). |
| `REPLICA_CHECK_SECONDS` | how long one process trusts its last look at the replica's state (1). |

Celery queues are part of the shape too: each kind of work has its own queue so a slow kind never
delays another, and each queue has its own workers (`celery worker -Q <queue>`).
"""

from __future__ import annotations

import os
from typing import Any

# --- Celery queues -----------------------------------------------------------------------------
# One constant for every place that names a queue: task routes below, `runall` (one worker for all
# queues), docker/compose.yml and the local topology (one worker service per queue).
QUEUE_REALTIME = "realtime"  # dispatch, timeouts, presence, inbound channel messages
QUEUE_BOT = "bot"  # bot answers and greetings (may call a tenant's answer provider)
QUEUE_OUTBOUND = "outbound"  # deliveries to channels, push and tracking webhooks
QUEUE_REPORTS = "reports"  # exports, rollups, search indexing, tracking scans
QUEUE_DEFAULT = "default"  # anything not routed (and the /healthz ping); served by the realtime workers
CELERY_QUEUE_NAMES = (QUEUE_REALTIME, QUEUE_BOT, QUEUE_OUTBOUND, QUEUE_REPORTS, QUEUE_DEFAULT)

# Task name (glob) -> queue. The most specific patterns first: Celery takes the first match.
CELERY_TASK_ROUTES = {
    "apps.channels.tasks.process_inbound": {"queue": QUEUE_REALTIME},
    "apps.channels.tasks.deliver_outbound": {"queue": QUEUE_OUTBOUND},
    "apps.messaging.tasks.mentions_task": {"queue": QUEUE_REALTIME},  # a colleague waits for the notice
    "apps.messaging.tasks.outbox_sweep_task": {"queue": QUEUE_REALTIME},  # dispatch and wakes run in it
    "apps.messaging.tasks.*": {"queue": QUEUE_OUTBOUND},
    "apps.outbound.tasks.*": {"queue": QUEUE_OUTBOUND},
    "apps.reports.tasks.tracking_webhook_task": {"queue": QUEUE_OUTBOUND},
    "apps.reports.tasks.*": {"queue": QUEUE_REPORTS},
    "apps.knowledge.tasks.*": {"queue": QUEUE_BOT},
    "apps.assist.tasks.*": {"queue": QUEUE_BOT},  # may wait on a tenant's AI provider
    "apps.routing.tasks.*": {"queue": QUEUE_REALTIME},
}


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def channel_layer_hosts(redis_url: str) -> list[str]:
    """The channel layer's shards: CHANNEL_REDIS_URLS, or the one REDIS_URL."""
    return _list("CHANNEL_REDIS_URLS") or [redis_url]


REPLICA_ALIAS = "replica"


def replica_database(primary: dict[str, Any]) -> dict[str, Any] | None:
    """The DATABASES entry of the read replica, or None when there is none.

    It takes the primary's engine options (charset, isolation level, SQL mode) and connects with a
    short timeout: a replica that does not answer must not hold a request for long, the router
    sends the read to the primary instead. In tests it mirrors the default database.
    """
    url = os.environ.get("DATABASE_REPLICA_URL", "")
    if not url:
        return None
    import dj_database_url

    replica: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=primary.get("CONN_MAX_AGE", 0)))
    if replica["ENGINE"] != primary["ENGINE"]:
        raise ValueError("DATABASE_REPLICA_URL must use the same database engine as DATABASE_URL")
    options = dict(primary.get("OPTIONS", {}))
    options.update(replica.get("OPTIONS", {}))
    if replica["ENGINE"] == "django.db.backends.mysql":
        options.setdefault("connect_timeout", 2)
    replica["OPTIONS"] = options
    replica["TEST"] = {"MIRROR": "default"}
    return replica


def replica_max_lag_seconds() -> float:
    return float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "5"))


def replica_check_seconds() -> float:
    return float(os.environ.get("REPLICA_CHECK_SECONDS", "1"))
