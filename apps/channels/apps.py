from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsAppConfig(AppConfig):
    # "channels" is Django Channels' label: ours is kf_channels.
    name = "apps.channels"
    label = "kf_channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        from django.conf import settings

        from apps.channels import demo, receivers  # noqa: F401 - registrations
        from apps.channels.schedule import BEAT_SCHEDULE

        schedule = getattr(settings, "CELERY_BEAT_SCHEDULE", None)
        if isinstance(schedule, dict):
            schedule.update(BEAT_SCHEDULE)
