"""Hook registrations: the bot and keyword alerts react to messages and new conversations."""

from __future__ import annotations

from django.db import transaction

from apps.conversations.hooks import on_conversation_started
from apps.conversations.models import ConversationStatus
from apps.knowledge.alerts import keyword_alerts_scan
from apps.messaging.hooks import on_message_created
from apps.messaging.models import SenderKind


@on_message_created
def _message_created(*, conversation, message) -> None:
    keyword_alerts_scan(conversation=conversation, message=message)
    if message.sender_kind == SenderKind.VISITOR and conversation.status == ConversationStatus.BOT:
        from apps.knowledge.tasks import bot_reply_task

        message_id = message.pk
        transaction.on_commit(lambda: bot_reply_task.delay(message_id))


@on_conversation_started
def _conversation_started(*, conversation, actor=None) -> None:
    if conversation.status == ConversationStatus.BOT:
        from apps.knowledge.tasks import bot_greet_task

        conversation_id = conversation.pk
        transaction.on_commit(lambda: bot_greet_task.delay(conversation_id))
