"""Celery tasks: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.privacy.tasks.retention_run_task", ignore_result=True)
def retention_run_task() -> dict:
    from apps.privacy.services import retention_run

    return retention_run()


@shared_task(
    name="apps.privacy.tasks.privacy_request_run_task",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
    ignore_result=True,
)
def privacy_request_run_task(request_id: int) -> None:
    from apps.privacy.services import privacy_request_run

    privacy_request_run(request_id=request_id)


@shared_task(
    name="apps.privacy.tasks.search_forget_task",
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=8,
    ignore_result=True,
)
def search_forget_task(message_ids: list[int]) -> int:
    from apps.search.selectors import get_backend

    return get_backend().forget_messages(message_ids=list(message_ids))
