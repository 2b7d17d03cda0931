"""Visitor jobs: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.visitors import services


@shared_task(acks_late=True)
def announce_left(visit_id: int, pages: int) -> bool:
    return services.announce_left(visit_id=visit_id, pages=pages)
