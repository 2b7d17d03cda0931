"""Code run in separate OS processes (multiprocessing spawn) by the concurrency tests: each
process sets Django up on the same test database and calls the real services."""

from __future__ import annotations

import os
import time


def _setup(db_name: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = db_name
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = db_name


def init(db_name: str) -> None:
    _setup(db_name)
    # Test settings run Celery tasks eagerly, so the throttled queue-position broadcast would run
    # inline in these processes (in production a worker does it). It is tested on its own; here
    # it would only stretch the burst out and make the races rarer.
    from apps.routing import tasks

    tasks.broadcast_queue_positions.apply_async = lambda *args, **kwargs: None


def arrive(job: tuple) -> list[tuple]:
    """Start conversations for `customer_ids` spread evenly over `spread` seconds from `at`."""
    channel_id, customer_ids, at, spread = job
    from django.db import connection

    from apps.channels.models import Channel
    from apps.customers.models import Customer
    from apps.routing.intake import conversation_intake

    channel = Channel.objects.get(pk=channel_id)
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=customer_ids)}
    out = []
    step = spread / max(len(customer_ids), 1)
    while time.time() < at:
        time.sleep(0.001)
    for i, customer_id in enumerate(customer_ids):
        delay = at + i * step - time.time()
        if delay > 0:
            time.sleep(delay)
        t0 = time.time()
        conversation = conversation_intake(channel=channel, customer=customers[customer_id])
        out.append((customer_id, conversation.pk, t0, time.time()))
    connection.close()
    return out


def close(job: tuple) -> int:
    conversation_ids, at = job
    from django.db import connection

    from apps.conversations.services import conversation_close

    while time.time() < at:
        time.sleep(0.001)
    for conversation_id in conversation_ids:
        conversation_close(conversation_id=conversation_id, reason="test")
    connection.close()
    return len(conversation_ids)
