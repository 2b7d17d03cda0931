from __future__ import annotations

import httpx
from celery import shared_task

from apps.messaging import push

MAX_RETRIES = 6


@shared_task(ignore_result=True)
def push_for_message(message_id: int) -> None:
    """Plan the offline pushes of a message and send each (safe to run twice: rows are unique)."""
    for delivery_id in push.push_plan(message_id=message_id):
        push_send.delay(delivery_id)


@shared_task(ignore_result=True)
def push_for_messages(message_ids: list[int]) -> None:
    """A batch of messages written in one transaction (the send path's group commit)."""
    for message_id in message_ids:
        for delivery_id in push.push_plan(message_id=message_id):
            push_send.delay(delivery_id)


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def push_send(self, delivery_id: int) -> None:
    try:
        push.push_attempt(delivery_id=delivery_id)
    except httpx.HTTPError as exc:
        if self.request.retries >= MAX_RETRIES:
            push.push_give_up(delivery_id=delivery_id)
            return
        # 2, 4, 8 ... 64 s
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1))
