"""Dispatch's periodic jobs, merged into CELERY_BEAT_SCHEDULE by RoutingConfig.ready()."""

BEAT_SCHEDULE = {
    "routing.timeouts": {"task": "apps.routing.tasks.run_timeouts", "schedule": 10.0},
    "routing.queue_sweep": {"task": "apps.routing.tasks.queue_sweep", "schedule": 15.0},
    "routing.presence_sweep": {"task": "apps.routing.tasks.presence_sweep", "schedule": 30.0},
    "routing.load_evaluate": {"task": "apps.routing.tasks.load_evaluate", "schedule": 10.0},
}
