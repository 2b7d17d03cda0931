"""The knowledge base's periodic jobs, merged into CELERY_BEAT_SCHEDULE by KnowledgeConfig.ready()."""

BEAT_SCHEDULE = {
    # Attach the agents' replies to the questions the bot missed, so the back-office page is ready
    # before an admin opens it (the page also collects what is pending when it is opened).
    "knowledge.missed_replies_collect": {
        "task": "apps.knowledge.tasks.missed_replies_collect_task",
        "schedule": 300.0,
    },
}
