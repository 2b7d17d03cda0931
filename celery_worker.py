"""The Celery app: `celery -A celery_worker worker` and `celery -A celery_worker beat`."""

import os

from celery import Celery, Task
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


class KefuTask(Task):
    """Every task: the database restarting or failing over is not the task's fault, so it runs
    again later (every task is safe to run twice) with growing delays, 1 s up to 60 s, about five
    minutes in all, instead of failing and losing its work (a push, a delivery, an export)."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = True
    retry_backoff_max = 60
    retry_kwargs = {"max_retries": 10}


app = Celery("kefu", task_cls=KefuTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
