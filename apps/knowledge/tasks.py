"""Celery tasks: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import TenantFairTask


@shared_task(acks_late=True, base=TenantFairTask, tenant_model="messaging.Message")
def bot_reply_task(message_id: int) -> int | None:
    from apps.knowledge.bot import bot_reply

    record = bot_reply(message_id=message_id)
    return record.pk if record is not None else None


@shared_task(acks_late=True, base=TenantFairTask, tenant_model="conversations.Conversation")
def bot_greet_task(conversation_id: int) -> int | None:
    from apps.knowledge.bot import bot_greet

    message = bot_greet(conversation_id=conversation_id)
    return message.pk if message is not None else None


@shared_task(acks_late=True)
def keyword_alerts_task(message_ids: list[int]) -> int:
    from apps.knowledge.alerts import keyword_alerts_for_messages

    return keyword_alerts_for_messages(message_ids=list(message_ids))


@shared_task(acks_late=True)
def missed_replies_collect_task() -> int:
    """Beat job: a question is finished once (reply found, or closed without one), so a redelivered or
    overlapping run finds nothing left to do for the rows another run finished."""
    from apps.knowledge.learning import missed_replies_collect

    return missed_replies_collect()
