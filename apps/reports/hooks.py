"""What the supervisor centre hooks into: agent status changes become AgentStatusLog rows, new
messages are indexed for full-text search after commit."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts import hooks as account_hooks
from apps.messaging import hooks as message_hooks


@account_hooks.on_status_changed
def record_status_change(*, agent, previous: str, status: str, actor, reason: str) -> None:
    from apps.reports.models import AgentStatusLog

    if not agent.tenant_id:
        return
    AgentStatusLog.objects.create(
        tenant_id=agent.tenant_id,
        agent_id=agent.pk,
        branch_id_at_time=agent.branch_id or 0,
        previous=previous or "",
        status=status,
        reason=(reason or "")[:100],
        created_at=getattr(agent, "status_changed_at", None) or timezone.now(),
    )


@message_hooks.on_message_created
def index_message_for_search(*, conversation, message) -> None:
    """Full-text index. Database backend: the terms are written in the message's transaction.
    Elasticsearch: a Celery task is enqueued after the message commits."""
    if not getattr(settings, "ELASTICSEARCH_URL", ""):
        from apps.reports.search.db import index_message

        index_message(conversation=conversation, message=message)  # text only, checked there
        return
    if message.content_type != "text":
        return
    from apps.reports.tasks import index_messages_task

    message_id = message.pk
    transaction.on_commit(lambda: index_messages_task.delay([message_id]))
