"""Channel jobs on beat's schedule, merged into CELERY_BEAT_SCHEDULE by the app's ready()."""

BEAT_SCHEDULE = {
    "channels.inbound_sweep": {"task": "apps.channels.tasks.inbound_sweep", "schedule": 60.0},
    # WeChat Customer Service without a callback Token is strictly rate-limited: read rarely.
    "channels.wecom_pull_all": {"task": "apps.channels.tasks.wecom_pull_all", "schedule": 300.0},
}
