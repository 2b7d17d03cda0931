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


async def _send_all(layer, items: list[tuple[str, dict]]) -> None:
    """Every (group, message) in order. The project's layer sends them all in a constant number of
    Redis round trips (`apps.messaging.layer`); another layer (tests' in-memory one) one by one."""
    many = getattr(layer, "group_send_many", None)
    if many is not None:
        try:
            await many(items)
        except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the write
            logger.exception("publish of %d wake-ups failed", len(items))
        return
    for group, message in items:
        try:
            await layer.group_send(group, message)
        except Exception as exc:  # noqa: BLE001 - as above
            logger.error("publish to %s failed: %r", group, exc)


def _send(groups: list[str], event: dict) -> None:
    _send_batch([(groups, event)])


def _send_batch(batch: list[tuple[list[str], dict]]) -> None:
    """One hop into the event loop for every group of every event (not one per group or per
    event: from a sync thread every async_to_sync call costs a loop switch and, outside daphne, a
    Redis round trip set-up). Events stay in order: they are queued in the order given, and the
    next batch is sent only after this call returns."""
    layer = get_channel_layer()
    items = [(group, {"type": "kf.event", "event": event}) for groups, event in batch for group in groups]
    if layer is None or not items:
        return
    try:
        async_to_sync(_send_all)(layer, items)
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the write
        logger.exception("publish of %d wake-ups failed", len(items))


def publish(groups: str | list[str], event: dict) -> None:
    events.validate(event)
    targets = [groups] if isinstance(groups, str) else list(groups)

    transaction.on_commit(lambda: _send(targets, event))


def publish_many(batch: list[tuple[str | list[str], dict]]) -> None:
    """Several events of one transaction, published after its commit in one hop (the message
    writer's batch: one wake-up per message, all sent together)."""
    targets = []
    for groups, event in batch:
        events.validate(event)
        targets.append(([groups] if isinstance(groups, str) else list(groups), event))
    if targets:
        transaction.on_commit(lambda: _send_batch(targets))
