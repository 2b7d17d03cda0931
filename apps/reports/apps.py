from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    verbose_name = _("Supervisor centre and reports")

    def ready(self) -> None:
        from django.conf import settings

        from apps.reports import hooks  # noqa: F401 - registers the customer-merge hook
        from apps.reports.schedule import SCHEDULE

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            for name, entry in SCHEDULE.items():
                schedule.setdefault(name, entry)
