"""Celery tasks of the supervisor centre: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.reports.tasks.rollup_refresh_task")
def rollup_refresh_task() -> int:
    from apps.reports.rollups import rollup_refresh

    return rollup_refresh()


@shared_task(
    name="apps.reports.tasks.index_messages_task", autoretry_for=(Exception,), retry_backoff=True, max_retries=5
)
def index_messages_task(message_ids: list[int]) -> int:
    from apps.reports.search import get_backend

    return get_backend().index_messages(message_ids=list(message_ids))
