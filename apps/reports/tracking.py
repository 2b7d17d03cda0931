"""Tracking webhooks (F59): POST the notification as JSON, signed like the tenant's push webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from apps.reports.models import TrackingNotification, TrackingSubscription


def tracking_webhook_send(*, notification_id: int) -> int:
    n = TrackingNotification.objects.select_related("customer").filter(pk=notification_id).first()
    if n is None:
        return 0
    sub = TrackingSubscription.objects.filter(customer_id=n.customer_id, user_id=n.user_id).first()
    if sub is None or not sub.webhook_url:
        return 0
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.get(pk=n.tenant_id)
    body = json.dumps(
        {
            "type": "tracking.step",
            "id": n.pk,
            "step": n.step,
            "text": n.text,
            "customer_id": n.customer_id,
            "conversation_id": n.conversation_id,
            "created_at": n.created_at.isoformat(),
        },
        ensure_ascii=False,
    ).encode()
    ts = str(int(time.time()))
    secret = (getattr(tenant, "push_webhook_secret", "") or "").encode()
    sig = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    resp = httpx.post(
        sub.webhook_url,
        content=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-Kefu-Timestamp": ts,
            "X-Kefu-Signature": sig,
            "Idempotency-Key": f"tracking-{n.pk}",
        },
    )
    resp.raise_for_status()
    return resp.status_code
