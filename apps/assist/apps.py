from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistConfig(AppConfig):
    name = "apps.assist"
    label = "assist"
    verbose_name = _("AI assistance")

    def ready(self) -> None:
        from apps.assist import receivers  # noqa: F401  (registers on the conversation hooks)
