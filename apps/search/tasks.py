from __future__ import annotations

from celery import shared_task


@shared_task(
    # The name it had in apps.reports: tasks already queued stay valid, routes and limits unchanged.
    name="apps.reports.tasks.index_messages_task",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)  # a batch may hold several tenants' messages (the send path's group commit): no per-tenant cap
def index_messages_task(message_ids: list[int]) -> int:
    from apps.search.selectors import get_backend

    return get_backend().index_messages(message_ids=list(message_ids))
