"""Component checks for /healthz."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection


def check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "vendor": connection.vendor, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001 - health reports any failure
        return {"ok": False, "error": str(exc)[:200]}


def check_redis() -> dict:
    import redis

    started = time.monotonic()
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
        return {"ok": True, "embedded": settings.EMBEDDED_REDIS, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)[:200]}


def check_celery(timeout: float = 3.0) -> dict:
    from apps.core.tasks import ping

    started = time.monotonic()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": ping.apply().get() == "pong", "eager": True}
    try:
        result = ping.apply_async(expires=timeout)
        answer = result.get(timeout=timeout)
        result.forget()
        return {"ok": answer == "pong", "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": (str(exc) or exc.__class__.__name__)[:200]}


def check_elasticsearch() -> dict | None:
    if not settings.ELASTICSEARCH_URL:
        return None
    import httpx

    try:
        response = httpx.get(settings.ELASTICSEARCH_URL.rstrip("/") + "/_cluster/health", timeout=2)
        status = response.json().get("status")
        return {"ok": status in ("green", "yellow"), "status": status}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)[:200]}


def _redacted(url: str) -> str:
    """host:port/db of a Redis URL, without a password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def check_channel_layer() -> dict:
    """Every shard the channel layer spreads groups over must answer: a group on a dead shard
    gets no wake-ups (clients still catch up from the database on their heartbeat)."""
    import redis

    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    hosts = layer["CONFIG"]["hosts"]
    shards = []
    for host in hosts:
        url = host if isinstance(host, str) else host.get("address", "")
        started = time.monotonic()
        try:
            redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
            shards.append({"shard": _redacted(url), "ok": True, "ms": round((time.monotonic() - started) * 1000, 1)})
        except Exception as exc:  # noqa: BLE001
            shards.append({"shard": _redacted(url), "ok": False, "error": str(exc)[:200]})
    return {"ok": all(s["ok"] for s in shards), "shards": shards}


def check_replica() -> dict | None:
    """The read replica's lag and whether reads use it. Not required: when it is down or behind,
    reports and history read from the primary (apps.core.replica), so the service stays up."""
    from apps.core.replica import replica_configured, replica_state

    if not replica_configured():
        return None
    state = replica_state(refresh=True)
    return {
        "ok": state.usable,
        "required": False,
        "reads_from": "replica" if state.usable else "primary",
        "lag_seconds": state.lag_seconds,
        "max_lag_seconds": state.max_lag_seconds,
        "reachable": state.reachable,
        "replicating": state.replicating,
        **({"error": state.error} if state.error else {}),
    }
