from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisitorsConfig(AppConfig):
    """Browsing visitors of the tenants' sites: visits, page trails, live lists, invitations."""

    name = "apps.visitors"
    label = "visitors"
    verbose_name = _("Visitors")
