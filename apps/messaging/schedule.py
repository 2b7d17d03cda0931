"""Messaging's periodic jobs, merged into CELERY_BEAT_SCHEDULE by MessagingConfig.ready()."""

BEAT_SCHEDULE = {
    # The after-commit work of batches whose sender never handed it off (apps/messaging/outbox.py).
    # `expires`: sweeps that queued up while the workers were away are dropped, not run in a row.
    "messaging.outbox_sweep": {
        "task": "apps.messaging.tasks.outbox_sweep_task",
        "schedule": 5.0,
        "options": {"expires": 5.0},
    },
}
