from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuickRepliesConfig(AppConfig):
    name = "apps.quickreplies"
    label = "quickreplies"
    verbose_name = _("Quick replies")

    def ready(self) -> None:
        from apps.quickreplies import demo  # noqa: F401 - demo registers its seed step
