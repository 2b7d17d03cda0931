"""The only way anything reaches a websocket: after the transaction commits.

The channel layer is a wake-up, never the source of truth: a client that misses an event
catches up from the database by seq.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.messaging import events

logger = logging.getLogger(__name__)


def _send(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "kf.event", "event": event})
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the write
        logger.exception("publish to %s failed", group)


def publish(groups: str | list[str], event: dict) -> None:
    events.validate(event)
    targets = [groups] if isinstance(groups, str) else list(groups)

    def _deliver() -> None:
        for group in targets:
            _send(group, event)

    transaction.on_commit(_deliver)
