from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "apps.search"
    label = "search"
    verbose_name = _("Full-text search")

    def ready(self) -> None:
        from apps.search import hooks  # noqa: F401 - indexes committed messages
