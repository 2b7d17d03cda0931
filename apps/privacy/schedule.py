"""Retention's periodic job, merged into CELERY_BEAT_SCHEDULE by PrivacyConfig.ready()."""

from datetime import timedelta

SCHEDULE = {
    # Each run does a bounded amount of work (batches, a time budget) and is safe to run twice;
    # a backlog (a tenant who just shortened a period) is worked off over several runs.
    "privacy.retention_run": {"task": "apps.privacy.tasks.retention_run_task", "schedule": timedelta(minutes=15)},
}
