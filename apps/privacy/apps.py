from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "apps.privacy"
    label = "privacy"
    verbose_name = _("Personal information and retention")

    def ready(self) -> None:
        from django.conf import settings

        from apps.privacy.schedule import SCHEDULE

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            for name, entry in SCHEDULE.items():
                schedule.setdefault(name, entry)
