"""AI assistance in Celery: take an id, call one service, safe to run twice (a row that is no
longer pending is left alone). Queue: bot (the one that may wait on a tenant's provider)."""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import TenantFairTask


@shared_task(
    name="apps.assist.tasks.summary_task",
    acks_late=True,
    ignore_result=True,
    base=TenantFairTask,
    tenant_model="assist.ConversationSummary",
)
def summary_task(summary_id: int) -> None:
    from apps.assist.services import summary_generate

    summary_generate(summary_id=summary_id)


@shared_task(
    name="apps.assist.tasks.suggestion_task",
    acks_late=True,
    ignore_result=True,
    base=TenantFairTask,
    tenant_model="assist.ReplySuggestion",
)
def suggestion_task(suggestion_id: int) -> None:
    from apps.assist.services import suggestion_generate

    suggestion_generate(suggestion_id=suggestion_id)
