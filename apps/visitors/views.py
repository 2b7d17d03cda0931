"""The supervisor centre's live visitor list (/supervisor/visitors/)."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.reports import selectors as report_selectors
from apps.reports.views import manager_page
from apps.tenants.time import tenant_tz
from apps.visitors import selectors


@manager_page
def live_page(request):
    user = request.user
    return render(
        request,
        "visitors/live.html",
        {
            "branches": report_selectors.scope_branches(actor=user)[0],
            "channels": selectors.watchable_channels(actor=user).order_by("name"),
            "snapshot": selectors.live_visitors(actor=user),
            "time_zone": str(tenant_tz(user=user)),
            "labels": {
                "chatting": _("Chatting"),
                "browsing": _("Browsing"),
                "direct": _("Direct visit"),
                "none": _("Nobody is on your sites right now."),
                "no_channels": _("No website channels in your scope."),
                "visit": _("visit %(n)s"),
                "devices": {
                    "desktop": _("Computer"),
                    "mobile": _("Phone"),
                    "tablet": _("Tablet"),
                    "bot": _("Robot"),
                    "other": _("Other"),
                },
                "state": {
                    "connecting": _("connecting…"),
                    "open": _("live"),
                    "reconnecting": _("reconnecting…"),
                    "stopped": _("offline"),
                },
            },
        },
    )
