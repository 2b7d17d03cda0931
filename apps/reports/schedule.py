"""Periodic jobs of the supervisor centre, merged into CELERY_BEAT_SCHEDULE by ReportsConfig.ready()."""

from datetime import timedelta

SCHEDULE = {
    "reports.rollup_refresh": {"task": "apps.reports.tasks.rollup_refresh_task", "schedule": timedelta(minutes=1)},
    "reports.tracking_scan": {"task": "apps.reports.tasks.tracking_scan_task", "schedule": timedelta(seconds=30)},
    "reports.exports_expire": {"task": "apps.reports.tasks.exports_expire_task", "schedule": timedelta(hours=1)},
}
