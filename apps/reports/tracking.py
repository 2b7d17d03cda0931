"""Tracking webhooks (F59): the notification as JSON, a signed delivery through apps.outbound
(signed with the tenant's push webhook secret, docs/webhooks.md)."""

from __future__ import annotations

from apps.reports.models import TrackingNotification, TrackingSubscription


def tracking_webhook_payload(n: TrackingNotification) -> dict:
    return {
        "type": "tracking.step",
        "id": n.pk,
        "step": n.step,
        "text": n.text,
        "customer_id": n.customer_id,
        "conversation_id": n.conversation_id,
        "created_at": n.created_at.isoformat(),
    }


def tracking_webhook_enqueue(*, notification_id: int):
    """Record the notification's webhook delivery (sent after commit, retried with backoff);
    None when the subscription has no webhook. Safe to call twice: one delivery per notification."""
    from apps.outbound.webhooks import webhook_enqueue

    n = TrackingNotification.objects.filter(pk=notification_id).first()
    if n is None:
        return None
    sub = TrackingSubscription.objects.filter(customer_id=n.customer_id, user_id=n.user_id).first()
    if sub is None or not sub.webhook_url:
        return None
    return webhook_enqueue(
        tenant_id=n.tenant_id,
        kind="tracking",
        url=sub.webhook_url,
        payload=tracking_webhook_payload(n),
        key=f"tracking-{n.pk}",
    )
