"""Channel jobs: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.channels import services

MAX_DELIVERY_RETRIES = 6


@shared_task(acks_late=True)
def process_inbound(inbound_id: int) -> None:
    services.inbound_process(inbound_id=inbound_id)


@shared_task(bind=True, acks_late=True, max_retries=MAX_DELIVERY_RETRIES)
def deliver_outbound(self, delivery_id: int) -> None:
    try:
        services.outbound_deliver(delivery_id=delivery_id)
    except services.RetryableDeliveryError as exc:
        if self.request.retries >= self.max_retries:
            services.outbound_give_up(delivery_id=delivery_id)
            return
        if self.request.is_eager:
            # No broker to schedule the retry on (tests, CELERY_TASK_ALWAYS_EAGER): retry inline.
            self.apply(args=[delivery_id], retries=self.request.retries + 1, throw=True)
            return
        # 5 s, 10 s, 20 s ... capped at 10 minutes.
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries))
