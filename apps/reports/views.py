"""Supervisor centre pages (server-rendered): parse, call a selector or service, render."""

from __future__ import annotations

import zoneinfo
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError
from apps.reports import charts, metrics, selectors


def manager_page(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_manager:
            raise DjangoPermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def tenant_tz(user):
    name = getattr(getattr(user, "tenant", None), "timezone", None) or "Asia/Shanghai"
    return zoneinfo.ZoneInfo(name)


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@manager_page
def report_page(request):
    user = request.user
    q = request.GET
    dimension = q.get("dimension") or "agent"
    ctx = {
        "q": q,
        "dimension": dimension,
        "dimensions": [("agent", _("Agent")), ("branch", _("Branch")), ("channel", _("Channel")), ("tag", _("Tag"))],
        "definitions": metrics.DEFINITIONS,
    }
    branches, _none = selectors.scope_branches(actor=user)
    ctx["branches"] = branches
    try:
        rng = selectors.parse_range(
            tz=tenant_tz(user), date_from=q.get("from"), date_to=q.get("to"), grain=q.get("grain")
        )
        branch_id = _int(q.get("branch"))
        table = selectors.report_table(actor=user, dimension=dimension, rng=rng, branch_id=branch_id)
        series = selectors.report_series(actor=user, rng=rng, branch_id=branch_id)
        kpis = selectors.kpi_table(actor=user, rng=rng, branch_id=branch_id)
    except ApplicationError as exc:
        ctx["error"] = exc.message
        return render(request, "reports/report.html", ctx, status=exc.status_code)
    total = table["total"]
    ctx.update(
        rng=rng,
        table=table,
        kpis=kpis,
        date_from=rng.start.astimezone(rng.tz).date().isoformat(),
        date_to=(
            rng.end.astimezone(rng.tz).date().fromordinal(rng.end.astimezone(rng.tz).date().toordinal() - 1)
        ).isoformat(),
        volume_chart=charts.bar_chart(
            series,
            [
                ("offered", _("Offered"), "#1f6feb"),
                ("accepted", _("Accepted"), "#2da44e"),
                ("abandoned", _("Abandoned"), "#cf222e"),
            ],
            title=_("Conversations"),
        ),
        time_chart=charts.bar_chart(
            series,
            [("frt_avg", _("First response (s)"), "#8250df"), ("aht_avg", _("Handling time (s)"), "#bf8700")],
            title=_("Response times"),
        ),
        satisfaction_chart=charts.distribution_chart(
            [(_("%(n)d stars") % {"n": s}, int(total[f"score_{s}"])) for s in (5, 4, 3, 2, 1)],
            title=_("Satisfaction distribution"),
        ),
    )
    return render(request, "reports/report.html", ctx)
