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
from apps.messaging import groups as names

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


def _send(groups: list[str], event: dict, *, staff_only: bool = False) -> None:
    _send_batch([(groups, event)], staff_only=staff_only)


def _send_batch(batch: list[tuple[list[str], dict]], *, staff_only: bool = False) -> None:
    """One hop into the event loop for every group of every event (not one per group or per
    event: from a sync thread every async_to_sync call costs a loop switch and, outside daphne, a
    Redis round trip set-up). Events stay in order: they are queued in the order given, and the
    next batch is sent only after this call returns. staff_only: visitors' sockets in those groups
    (a conversation's group) drop the event; they get their own copy elsewhere, if any."""
    layer = get_channel_layer()
    extra = {"staff_only": True} if staff_only else {}
    items = [(group, {"type": "kf.event", "event": event, **extra}) for groups, event in batch for group in groups]
    if layer is None or not items:
        return
    try:
        async_to_sync(_send_all)(layer, items)
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the write
        logger.exception("publish of %d wake-ups failed", len(items))


def _send_raw(groups: list[str], message: dict) -> None:
    """A control message (not an event) to groups, in one hop."""
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    try:
        async_to_sync(_send_all)(layer, [(group, message) for group in groups])
    except Exception:  # noqa: BLE001 - a lost control message is caught up by the next check
        logger.exception("control message to %s failed", groups)


def publish(groups: str | list[str], event: dict, *, staff_only: bool = False) -> None:
    """Send `event` to channel-layer groups after the commit. staff_only: visitors' sockets in
    those groups (a conversation's group) drop it; they get their own copy elsewhere, if any."""
    events.validate(event)
    targets = [groups] if isinstance(groups, str) else list(groups)

    transaction.on_commit(lambda: _send(targets, event, staff_only=staff_only))


def publish_many(batch: list[tuple[str | list[str], dict]]) -> None:
    """Several events of one transaction, published after its commit in one hop (the message
    writer's batch: one wake-up per message, all sent together)."""
    targets = []
    for groups, event in batch:
        events.validate(event)
        targets.append(([groups] if isinstance(groups, str) else list(groups), event))
    if targets:
        transaction.on_commit(lambda: _send_batch(targets))


def publish_conversation_event(conversation, event: dict, *, also_user_ids=(), visitor: bool = False) -> None:
    """Zulip's send_event_on_commit(realm, event, user_ids): when the transaction commits, the
    recipients are computed through the access policy (apps.conversations.policy.audience: the
    staff who may see the conversation now) and each gets the event in their own group; nobody
    else does. also_user_ids: people told although they may have just lost access (the agent a
    conversation was transferred or requeued away from). visitor: the customer's sockets get it
    too (through the customer group).

    Then every socket in the conversation's group re-checks its access (`kf.access`), so one who
    lost it stops receiving the conversation within the moment the commit takes to arrive."""
    events.validate(event)
    conversation_id, tenant_id, customer_id = conversation.pk, conversation.tenant_id, conversation.customer_id
    also = {u for u in also_user_ids if u}

    def send() -> None:
        from apps.conversations import policy

        recipients = set(policy.audience(conversation_id)) | also
        targets = [names.agent_group(tenant_id, u) for u in sorted(recipients)]
        if visitor:
            targets.append(names.customer_group(tenant_id, customer_id))
        _send(targets, event)
        _send_raw(
            [names.conversation_group(tenant_id, conversation_id)],
            {"type": "kf.access", "conversation_id": conversation_id},
        )
        _send_raw([names.monitor_group(tenant_id)], {"type": "kf.nudge"})

    transaction.on_commit(send)


def publish_user_access_changed(user) -> None:
    """A user's grants changed (disabled, role, branch): after the commit their open sockets
    re-check themselves, and close if the account may no longer sign in."""
    if not user.tenant_id:
        return
    tenant_id, user_id = user.tenant_id, user.pk
    transaction.on_commit(
        lambda: _send_raw([names.user_control_group(tenant_id, user_id)], {"type": "kf.access", "user": True})
    )
