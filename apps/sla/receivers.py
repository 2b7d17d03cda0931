"""Clocks start when a conversation reaches people: created straight into the queue (or to an
agent), or handed over by the bot. Enqueued after commit; the check job starts any a lost task
missed."""

from __future__ import annotations

from django.db import transaction

from apps.conversations import hooks
from apps.conversations.models import ConversationStatus
from apps.routing import waiting


def _enqueue(conversation) -> None:
    if conversation.status == ConversationStatus.BOT:
        return
    from apps.sla.services import policies_for

    if not policies_for(conversation.tenant_id):
        return
    from apps.sla.tasks import sla_clock_start_task

    conversation_id = conversation.pk
    transaction.on_commit(lambda: sla_clock_start_task.delay(conversation_id))


@hooks.on_conversation_started
def _started(*, conversation, actor=None) -> None:
    _enqueue(conversation)


@hooks.on_conversation_requeued
def _requeued(*, conversation, text: str = "") -> None:
    _enqueue(conversation)


@waiting.on_waiting_changed
def _waiting(*, conversation, waiting: bool, at) -> None:
    from apps.sla.services import sla_resolution_pause, sla_resolution_resume

    if waiting:
        sla_resolution_pause(conversation_id=conversation.pk, at=at)
    else:
        sla_resolution_resume(conversation_id=conversation.pk, at=at)
    # The conversation's wire shape (published next) reads the clock again.
    conversation._state.fields_cache.pop("sla", None)
