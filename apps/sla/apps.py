from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "apps.sla"
    label = "sla"
    verbose_name = _("Service levels")

    def ready(self) -> None:
        from django.conf import settings

        from apps.sla import receivers  # noqa: F401 - starts clocks when conversations reach people
        from apps.sla.schedule import SCHEDULE

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            for name, entry in SCHEDULE.items():
                schedule.setdefault(name, entry)
