from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboundConfig(AppConfig):
    name = "apps.outbound"
    label = "outbound"
    verbose_name = _("Outbound calls")
    default_auto_field = "django.db.models.BigAutoField"
