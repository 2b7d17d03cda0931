"""Celery tasks: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.sla.tasks.sla_clock_start_task", ignore_result=True)
def sla_clock_start_task(conversation_id: int) -> None:
    from apps.sla.services import sla_clock_start

    sla_clock_start(conversation_id=conversation_id)


@shared_task(name="apps.sla.tasks.sla_check_task", ignore_result=True)
def sla_check_task() -> dict:
    from apps.sla.services import sla_check

    return sla_check()
