from __future__ import annotations

from celery import shared_task

from apps.core.jobs import TenantFairTask
from apps.messaging import push
from apps.outbound import webhooks

MAX_RETRIES = 6


@shared_task(ignore_result=True, base=TenantFairTask, tenant_model="messaging.Message")
def push_for_message(message_id: int) -> None:
    """Plan the offline pushes of a message and send each (safe to run twice: rows are unique)."""
    for delivery_id in push.push_plan(message_id=message_id):
        push_send.delay(delivery_id)


@shared_task(ignore_result=True)  # a batch may hold several tenants' messages: planning only, quick
def push_for_messages(message_ids: list[int]) -> None:
    """A batch of messages written in one transaction (the send path's group commit)."""
    for message_id in message_ids:
        for delivery_id in push.push_plan(message_id=message_id):
            push_send.delay(delivery_id)


@shared_task(
    bind=True, ignore_result=True, max_retries=MAX_RETRIES, base=TenantFairTask, tenant_model="messaging.PushDelivery"
)
def push_send(self, delivery_id: int) -> None:
    try:
        push.push_attempt(delivery_id=delivery_id)
    except push.PushBusy:
        # Another copy of this task is POSTing it (a replanned message, a redelivery): look again
        # once its claim has lapsed, as a fresh task (the busy wait is not a failed attempt).
        push_send.apply_async((delivery_id,), countdown=push.CLAIM_SECONDS)
    except webhooks.DeliveryError as exc:
        if not exc.retryable or self.request.retries >= MAX_RETRIES:
            push.push_give_up(delivery_id=delivery_id)
            return
        raise self.retry(exc=exc, countdown=webhooks.retry_countdown(self.request.retries))


@shared_task(name="apps.messaging.tasks.mentions_task", ignore_result=True)
def mentions_task(message_ids: list[int]) -> None:
    """@mentions of committed internal notes (safe to run twice: one mention per note and person)."""
    from apps.messaging.mentions import mentions_process

    for message_id in message_ids:
        mentions_process(message_id=message_id)


@shared_task(ignore_result=True)
def outbox_sweep_task() -> int:
    """Beat job: the after-commit work of batches nobody handed off (safe to run twice, and
    concurrently: each row's work is claimed by one sweeper)."""
    from apps.messaging.outbox import outbox_sweep

    return outbox_sweep()
