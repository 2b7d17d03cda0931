"""The only way anything reaches a websocket: after the transaction commits.

The channel layer is a wake-up, never the source of truth: a client that misses an event
catches up from the database by seq.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from apps.messaging import events

logger = logging.getLogger(__name__)


async def _send_all(layer, groups: list[str], message: dict) -> None:
    results = await asyncio.gather(*(layer.group_send(group, message) for group in groups), return_exceptions=True)
    for group, result in zip(groups, results, strict=True):
        if isinstance(result, Exception):
            logger.error("publish to %s failed: %r", group, result)


def _send(groups: list[str], event: dict) -> None:
    """One hop into the event loop for all groups of an event (not one per group: from a sync
    thread every async_to_sync call costs a loop switch and, outside daphne, a Redis round trip
    set-up). Groups are independent, so they are sent concurrently; events stay in order because
    the next event is sent only after this call returns."""
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    try:
        async_to_sync(_send_all)(layer, groups, {"type": "kf.event", "event": event})
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the write
        logger.exception("publish to %s failed", groups)


def publish(groups: str | list[str], event: dict) -> None:
    events.validate(event)
    targets = [groups] if isinstance(groups, str) else list(groups)

    transaction.on_commit(lambda: _send(targets, event))
