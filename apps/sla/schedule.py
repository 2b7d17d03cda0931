"""Service-level jobs, merged into CELERY_BEAT_SCHEDULE by SlaConfig.ready()."""

SCHEDULE = {
    # Starts clocks a lost task missed and records breaches; idempotent (one breach row per
    # conversation and target), so overlapping or repeated runs change nothing.
    "sla.check": {"task": "apps.sla.tasks.sla_check_task", "schedule": 20.0},
}
