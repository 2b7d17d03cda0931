"""Hook registrations: the bot and keyword alerts react to messages and new conversations."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.conversations.hooks import on_conversation_started
from apps.conversations.models import ConversationStatus
from apps.knowledge.alerts import forget_keywords, keyword_alerts_match
from apps.knowledge.models import AlertKeyword
from apps.messaging.hooks import on_messages_committed
from apps.messaging.models import SenderKind


@on_messages_committed
def _messages_committed(*, messages) -> None:
    """After the send committed: the keyword scan runs from memory (no query), a hit and the
    bot's answer go to Celery, so neither holds the conversation lock nor the sender's ack."""
    from apps.knowledge.tasks import bot_reply_task, keyword_alerts_task

    hits = [
        m.pk for m in messages if keyword_alerts_match(tenant_id=m.tenant_id, sender_kind=m.sender_kind, body=m.body)
    ]
    if hits:
        keyword_alerts_task.delay(hits)
    for message in messages:
        if message.sender_kind == SenderKind.VISITOR and message.conversation.status == ConversationStatus.BOT:
            bot_reply_task.delay(message.pk)


@on_conversation_started
def _conversation_started(*, conversation, actor=None) -> None:
    if conversation.status == ConversationStatus.BOT:
        from apps.knowledge.tasks import bot_greet_task

        conversation_id = conversation.pk
        transaction.on_commit(lambda: bot_greet_task.delay(conversation_id))


@receiver(post_save, sender=AlertKeyword)
@receiver(post_delete, sender=AlertKeyword)
def _keywords_changed(sender, instance, **kwargs) -> None:
    # This process's copy only (other processes refresh within alerts.KEYWORDS_TTL); again on
    # commit, in case a send reloaded the old list meanwhile.
    forget_keywords(instance.tenant_id)
    transaction.on_commit(lambda: forget_keywords(instance.tenant_id))
