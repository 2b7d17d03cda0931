"""The supervisor centre's live visitor list (/supervisor/visitors/)."""

from __future__ import annotations

from datetime import timedelta

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


@manager_page
def invitations_page(request):
    """Invitations sent, shown, accepted and converted, per rule and branch, over chosen dates."""
    from apps.core.errors import ApplicationError
    from apps.tenants.time import local_today
    from apps.workbench.api.views import parse_range

    tz = tenant_tz(user=request.user)
    error = ""
    try:
        start, end = parse_range(request.GET, tz=tz, default_days=7)
    except ApplicationError as exc:
        error = str(exc.message)
        start, end = parse_range({}, tz=tz, default_days=7)
    except ValueError:  # 2026-13-45: well formed, not a date
        error = _("Dates must look like 2026-01-31.")
        start, end = parse_range({}, tz=tz, default_days=7)
    report = selectors.invitation_report(actor=request.user, start=start, end=end)
    today = local_today(tz)
    return render(
        request,
        "visitors/invitations.html",
        {
            "report": report,
            "error": error,
            "date_from": request.GET.get("from") or (today - timedelta(days=6)).isoformat(),
            "date_to": request.GET.get("to") or today.isoformat(),
        },
        status=400 if error else 200,
    )
