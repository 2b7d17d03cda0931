"""Celery tasks of the supervisor centre: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.reports.tasks.rollup_refresh_task")
def rollup_refresh_task() -> int:
    from apps.reports.rollups import rollup_refresh

    return rollup_refresh()
