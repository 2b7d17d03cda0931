"""Component checks for /healthz."""

from __future__ import annotations

import time

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
