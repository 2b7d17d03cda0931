"""Offline push: a message for someone with no live connection goes to the tenant's push webhook.

Decided per message after commit (a Celery task), so the send path only pays for a cached
"does this tenant have a webhook" check.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.messaging import presence
from apps.messaging.models import Message, PushDelivery, SenderKind, Visibility
from apps.messaging.serializers import message_to_dict
from apps.outbound import webhooks

logger = logging.getLogger(__name__)

_tenant_cache: dict[int, tuple[bool, float]] = {}
TENANT_CACHE_SECONDS = 30.0


def tenant_has_webhook(tenant_id: int) -> bool:
    from apps.tenants.models import Tenant

    cached = _tenant_cache.get(tenant_id)
    now = time.monotonic()
    if cached is not None and cached[1] > now:
        return cached[0]
    has = bool(Tenant.objects.filter(pk=tenant_id).exclude(push_webhook_url="").values_list("pk", flat=True).first())
    _tenant_cache[tenant_id] = (has, now + TENANT_CACHE_SECONDS)
    return has


def recipients_for(message: Message) -> list[tuple[str, int]]:
    """Who should hear about a message: the visitor for staff/bot messages they may see, the
    assigned agent for anything they did not write themselves."""
    conversation = message.conversation
    out: list[tuple[str, int]] = []
    if message.visibility == Visibility.ALL and message.sender_kind != SenderKind.VISITOR:
        out.append(("visitor", conversation.customer_id))
    if conversation.assignee_id and message.sender_user_id != conversation.assignee_id:
        out.append(("agent", conversation.assignee_id))
    return out


def _presence_key(kind: str, recipient_id: int) -> str:
    return presence.visitor_key(recipient_id) if kind == "visitor" else presence.agent_key(recipient_id)


def push_plan(*, message_id: int) -> list[int]:
    """Create the delivery rows for the offline recipients of a message; return their ids."""
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None:
        return []
    ids = []
    for kind, recipient_id in recipients_for(message):
        if presence.live_connections(_presence_key(kind, recipient_id)) > 0:
            continue
        try:
            with transaction.atomic():
                delivery = PushDelivery.objects.create(
                    tenant_id=message.tenant_id, message=message, recipient_kind=kind, recipient_id=recipient_id
                )
        except IntegrityError:
            delivery = PushDelivery.objects.get(message=message, recipient_kind=kind, recipient_id=recipient_id)
        if delivery.status == PushDelivery.Status.PENDING:
            ids.append(delivery.pk)
    return ids


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The X-Kefu-Signature value (docs/webhooks.md): `sha256=<hex HMAC-SHA256>`."""
    return webhooks.signature(secret=secret, timestamp=timestamp, body=body)


def push_body(delivery: PushDelivery) -> bytes:
    message = delivery.message
    payload = {
        "delivery_id": delivery.pk,
        "recipient": {"kind": delivery.recipient_kind, "id": delivery.recipient_id},
        "conversation_id": message.conversation_id,
        "message": message_to_dict(message),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


CLAIM_SECONDS = 60  # longer than one POST may take (apps.outbound.webhooks.TIMEOUT)
POSTED_SECONDS = 7 * 24 * 3600


class PushBusy(Exception):
    """Another worker is POSTing this delivery right now."""


def _claim_key(delivery_id: int) -> str:
    return f"push-claim:{delivery_id}"


def _posted_key(delivery_id: int) -> str:
    return f"push-posted:{delivery_id}"


def _mark_delivered(delivery_id: int) -> None:
    PushDelivery.objects.filter(pk=delivery_id, status=PushDelivery.Status.PENDING).update(
        status=PushDelivery.Status.DELIVERED, delivered_at=timezone.now(), last_error=""
    )


def push_attempt(*, delivery_id: int) -> bool | None:
    """POST one delivery. True: delivered (now or before); None: nothing to do; raises on failure,
    PushBusy while another worker POSTs it.

    At most one POST per delivery however often the task runs: the POST is claimed first (a
    cache key taken with SET NX, so two copies of the task never POST together), and a POST
    that succeeded is remembered in the cache before the row is marked delivered, so a retry
    after the database failed to take that mark (a restarting primary) only marks it."""
    delivery = (
        PushDelivery.objects.select_related("message__sender_user", "message__conversation", "tenant")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status == PushDelivery.Status.FAILED:
        return None
    if delivery.status == PushDelivery.Status.DELIVERED:
        return True
    tenant = delivery.tenant
    if not tenant.push_webhook_url:
        return None
    if cache.get(_posted_key(delivery.pk)):
        _mark_delivered(delivery.pk)
        return True
    token = uuid.uuid4().hex
    if not cache.add(_claim_key(delivery.pk), token, CLAIM_SECONDS):
        raise PushBusy(delivery.pk)
    try:
        _post(delivery, tenant)
    finally:
        if cache.get(_claim_key(delivery.pk)) == token:
            cache.delete(_claim_key(delivery.pk))
    _mark_delivered(delivery.pk)
    return True


def _post(delivery: PushDelivery, tenant) -> None:
    body = push_body(delivery)
    PushDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        webhooks.webhook_post(
            url=tenant.push_webhook_url,
            body=body,
            secret=tenant.push_webhook_secret,
            delivery_id=delivery.pk,
            idempotency_key=f"kefu-push-{delivery.pk}",
        )
    except webhooks.DeliveryError as exc:
        PushDelivery.objects.filter(pk=delivery.pk).update(last_error=str(exc)[:300])
        raise
    try:
        cache.set(_posted_key(delivery.pk), 1, POSTED_SECONDS)
    except Exception:  # noqa: BLE001 - the POST went out; only a second failure could repeat it
        logger.warning("push %s: POSTed, not remembered in the cache", delivery.pk, exc_info=True)


def push_give_up(*, delivery_id: int) -> None:
    PushDelivery.objects.filter(pk=delivery_id, status=PushDelivery.Status.PENDING).update(
        status=PushDelivery.Status.FAILED
    )


def push_retry(*, actor, delivery_ids: list[int]) -> int:
    """A super admin sends failed pushes again (after fixing the gateway): each failed delivery of
    the actor's tenant goes back to pending with its attempts reset and is queued once more.
    Delivered and pending ones are left alone. Audited. Returns how many were queued."""
    from apps.core.services import audit_record

    if not (actor.is_super_admin or actor.is_platform_operator) or not actor.tenant_id:
        return 0
    with transaction.atomic():
        failed = list(
            PushDelivery.objects.select_for_update().filter(
                tenant_id=actor.tenant_id, pk__in=delivery_ids, status=PushDelivery.Status.FAILED
            )
        )
        ids = [d.pk for d in failed]
        PushDelivery.objects.filter(pk__in=ids).update(status=PushDelivery.Status.PENDING, attempts=0, last_error="")
        for delivery in failed:
            audit_record(actor=actor, action="push.retry", obj=delivery, tenant=actor.tenant)

        def enqueue():
            from apps.messaging.tasks import push_send

            for pk in ids:
                push_send.delay(pk)

        transaction.on_commit(enqueue)
    return len(ids)
