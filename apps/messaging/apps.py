from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "apps.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self):
        from django.conf import settings

        from apps.accounts import hooks as account_hooks
        from apps.messaging import receivers  # noqa: F401
        from apps.messaging.publish import publish_user_access_changed
        from apps.messaging.schedule import BEAT_SCHEDULE

        account_hooks.on_access_changed(publish_user_access_changed)
        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.update(BEAT_SCHEDULE)
