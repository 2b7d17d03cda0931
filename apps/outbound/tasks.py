"""Delivery of signed webhooks: take an id, call one service, safe to run twice (the row's status
is the idempotency check; the receiver also gets Idempotency-Key)."""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import TenantFairTask
from apps.outbound import webhooks


@shared_task(
    name="apps.outbound.tasks.webhook_deliver_task",
    bind=True,
    ignore_result=True,
    max_retries=None,
    base=TenantFairTask,
    tenant_model="outbound.WebhookDelivery",
)
def webhook_deliver_task(self, delivery_id: int) -> None:
    try:
        webhooks.webhook_deliver(delivery_id=delivery_id)
    except webhooks.DeliveryError as exc:
        if not exc.retryable or self.request.retries + 1 >= webhooks.max_attempts():
            webhooks.webhook_give_up(delivery_id=delivery_id)
            return
        raise self.retry(exc=exc, countdown=webhooks.retry_countdown(self.request.retries))
