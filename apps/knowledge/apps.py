from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge base and bot")

    def ready(self) -> None:
        from django.conf import settings

        from apps.knowledge import demo, receivers  # noqa: F401  (hook and demo registrations)
        from apps.knowledge.schedule import BEAT_SCHEDULE

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.update(BEAT_SCHEDULE)
