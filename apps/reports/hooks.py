"""What the supervisor centre hooks into: agent status changes become AgentStatusLog rows, new
messages are indexed for full-text search after commit."""

from __future__ import annotations

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


@message_hooks.on_messages_committed
def index_messages_for_search(*, messages) -> None:
    """Full-text index (database or Elasticsearch backend): one Celery task per committed batch,
    off the send path; the task is idempotent (INSERT IGNORE / same document id)."""
    ids = [m.pk for m in messages if m.content_type == "text" and m.body]
    if ids:
        from apps.reports.tasks import index_messages_task

        index_messages_task.delay(ids)
