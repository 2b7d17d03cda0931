"""Hook registrations of the messaging app itself (loaded in MessagingConfig.ready)."""

from __future__ import annotations

from django.db import transaction

from apps.messaging import hooks, push


@hooks.on_message_created
def _plan_offline_push(*, conversation, message) -> None:
    if not push.tenant_has_webhook(conversation.tenant_id):
        return
    from apps.messaging.tasks import push_for_message

    message_id = message.pk
    transaction.on_commit(lambda: push_for_message.delay(message_id))
