"""Celery tasks of the supervisor centre: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.core.jobs import TenantFairTask
from apps.core.replica import replica_reads


@shared_task(name="apps.reports.tasks.rollup_refresh_task")
def rollup_refresh_task() -> int:
    from apps.reports.rollups import rollup_refresh

    return rollup_refresh()


@shared_task(name="apps.reports.tasks.export_run_task", base=TenantFairTask, tenant_model="reports.ExportJob")
@replica_reads()  # the rows may come from the replica; the job row itself is always the primary's
def export_run_task(job_id: int) -> str:
    from apps.reports.exports import export_run

    return export_run(job_id=job_id).status


@shared_task(name="apps.reports.tasks.exports_expire_task")
def exports_expire_task() -> int:
    from apps.reports.exports import exports_expire

    return exports_expire()


@shared_task(name="apps.reports.tasks.tracking_scan_task")
def tracking_scan_task() -> int:
    from apps.reports.services import tracking_scan_events

    return tracking_scan_events()


@shared_task(
    name="apps.reports.tasks.tracking_webhook_task", base=TenantFairTask, tenant_model="reports.TrackingNotification"
)
def tracking_webhook_task(notification_id: int) -> None:
    """Kept for tasks queued before tracking webhooks became apps.outbound deliveries."""
    from apps.reports.tracking import tracking_webhook_enqueue

    tracking_webhook_enqueue(notification_id=notification_id)
