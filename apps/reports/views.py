"""Supervisor centre pages (server-rendered): parse, call a selector or service, render."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError, NotFound, PermissionDenied
from apps.core.params import int_param_or_none
from apps.core.replica import replica_reads
from apps.reports import charts, metrics, selectors
from apps.tenants.time import tenant_tz as _tenant_tz


def manager_page(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_manager:
            raise DjangoPermissionDenied
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(str(exc.message)) from exc
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(str(exc.message)) from exc

    return wrapper


def tenant_tz(user):
    return _tenant_tz(user=user)


@manager_page
@replica_reads()
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
        branch_id = int_param_or_none(q.get("branch"))
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
        columns=metrics.report_columns(dimension),
        tz_name=str(rng.tz),
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
            [
                ("wait_avg", _("Queue wait (s)"), "#1f6feb"),
                ("frt_avg", _("First response (s)"), "#8250df"),
                ("aht_avg", _("Handling time (s)"), "#bf8700"),
            ],
            title=_("Response times"),
        ),
        satisfaction_chart=charts.distribution_chart(
            [(_("%(n)d stars") % {"n": s}, int(total[f"score_{s}"])) for s in (5, 4, 3, 2, 1)],
            title=_("Satisfaction distribution"),
        ),
    )
    return render(request, "reports/report.html", ctx)


# --- overview and live monitor ------------------------------------------------------------------


def monitor_labels() -> dict:
    """Words the live pages' script shows (it has no translation catalogue of its own)."""
    from django.urls import reverse

    from apps.accounts.models import AgentStatus

    return {
        "history_url": reverse("reports:history"),
        "status": {k: str(v) for k, v in AgentStatus.choices},
        "state": {"open": _("live"), "connecting": _("connecting…"), "reconnecting": _("reconnecting…")},
        "no_queue": _("No one is waiting."),
        "no_agents": _("No agents in this scope."),
        "no_alerts": _("No alerts."),
        "conversation": _("Conversation"),
        "wait_min": _("%(m)s min %(s)s s"),
        "wait_sec": _("%(s)s s"),
    }


def _live_context(request) -> dict:
    branches, _none = selectors.scope_branches(actor=request.user)
    snapshot = selectors.monitor_snapshot(actor=request.user, tz=tenant_tz(request.user))
    return {"branches": branches, "snapshot": snapshot, "labels": monitor_labels()}


@manager_page
def home_page(request):
    """The supervisor centre's start page, where supervisors land: the live picture of their
    subtree and the way to everything else."""
    from apps.reports.models import FollowUpTask

    ctx = _live_context(request)
    ctx["open_followups"] = FollowUpTask.objects.visible_to(request.user).filter(status="open").count()
    return render(request, "reports/home.html", ctx)


@manager_page
def monitor_page(request):
    return render(request, "reports/monitor.html", _live_context(request))


# --- history and conversations ----------------------------------------------------------------


@manager_page
@replica_reads()
def history_page_view(request):
    from apps.accounts.models import User
    from apps.channels.models import Channel
    from apps.conversations.models import ConversationTag
    from apps.reports.history import history_filter_parse, history_page
    from apps.search.selectors import MAX_CONVERSATIONS, get_backend

    user = request.user
    ctx = {
        "q": request.GET,
        "branches": selectors.scope_branches(actor=user)[0],
        "channels": Channel.objects.visible_to(user).order_by("name"),
        "agents": User.objects.visible_to(user).agents().order_by("username"),
        "tags": ConversationTag.objects.visible_to(user),
        # The search engine by its name for people, never the backend's code.
        "backend": {"database": _("database"), "elasticsearch": "Elasticsearch"}.get(get_backend().name, _("Other")),
        "search_limit": MAX_CONVERSATIONS,
        "export_search_limit": get_backend().max_limit,
    }
    try:
        f = history_filter_parse(request.GET)
        page = int_param_or_none(request.GET.get("page")) or 1
        rows, has_next = history_page(actor=user, f=f, tz=tenant_tz(user), page=page)
    except ApplicationError as exc:
        ctx["error"] = exc.message
        return render(request, "reports/history.html", ctx, status=exc.status_code)
    params = request.GET.copy()
    params.pop("page", None)
    ctx.update(rows=rows, page=page, has_next=has_next, filters=f.as_dict(), qs=params.urlencode())
    return render(request, "reports/history.html", ctx)


@manager_page
def conversation_page(request, pk: int):
    from django.contrib import messages as flash
    from django.db.models import Count, Q
    from django.shortcuts import redirect

    from apps.accounts.models import User
    from apps.conversations import interventions
    from apps.conversations.models import ConversationStatus
    from apps.conversations.services import ACTIVE_LOAD_STATUSES, SERVING_STATUSES
    from apps.core import labels
    from apps.messaging.models import Message

    user = request.user
    conv = interventions.conversation_get_for_supervisor(actor=user, conversation_id=pk)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "watch":
                interventions.intervention_watch(actor=user, conversation_id=pk)
                flash.success(request, _("You are watching this conversation silently."))
            elif action == "whisper":
                interventions.intervention_whisper(actor=user, conversation_id=pk, body=request.POST.get("body", ""))
                flash.success(request, _("Whisper sent to the agent."))
            elif action == "join":
                interventions.intervention_join(actor=user, conversation_id=pk, body=request.POST.get("body", ""))
                flash.success(request, _("You joined the conversation."))
            elif action == "take_over":
                done = interventions.intervention_take_over(
                    actor=user, conversation_id=pk, agent_id=int_param_or_none(request.POST.get("agent"))
                )
                if done.assignee_id == user.pk:
                    flash.success(
                        request,
                        _("You serve this conversation now (status: %(status)s). Open it in the workbench to reply.")
                        % {"status": labels.agent_status(User.objects.get(pk=user.pk).status)},
                    )
                else:
                    flash.success(request, _("The conversation was reassigned."))
            elif action == "hand_back":
                interventions.intervention_hand_back(actor=user, conversation_id=pk)
                flash.success(request, _("The conversation went back to the queue for the next free agent."))
            else:
                raise ApplicationError("invalid_action", _("Unknown action."))
        except ApplicationError as exc:
            flash.error(request, exc.message)
        return redirect("reports:conversation", pk=pk)
    msgs = Message.objects.filter(conversation=conv).select_related("sender_user").order_by("seq")[:500]
    agents = (
        User.objects.visible_to(user)
        .agents()
        .filter(is_active=True)
        .exclude(pk=user.pk)
        .annotate(
            load=Count("assigned_conversations", filter=Q(assigned_conversations__status__in=ACTIVE_LOAD_STATUSES))
        )
        .order_by("display_name", "username")
    )
    agent_rows = [
        {"user": a, "can_serve": a.status in SERVING_STATUSES and a.load < a.max_chats, "load": a.load} for a in agents
    ]
    agent_rows.sort(key=lambda r: not r["can_serve"])
    live = {
        "conversation_id": conv.pk,
        "statuses": {k: str(v) for k, v in ConversationStatus.choices},
        "names": {str(a.pk): a.name for a in agents} | {str(user.pk): user.name},
        "staff_only": _("staff only"),
        "state": monitor_labels()["state"],
        "senders": {"visitor": _("Customer"), "bot": _("Bot"), "system": _("System"), "agent": _("Agent")},
        # Who else has it open (collision, apps.messaging.collision): the same words as the workbench.
        "me": user.pk,
        "viewers": {
            "viewing": _("%(name)s is viewing"),
            "typing": _("%(name)s is typing…"),
            "draft": _("%(name)s has an unsent draft"),
        },
    }
    return render(
        request,
        "reports/conversation.html",
        {
            "conv": conv,
            "messages_list": msgs,
            "agent_rows": agent_rows,
            "events": conv.events.select_related("agent", "actor")[:200],
            "live": live,
            "can_hand_back": conv.status == ConversationStatus.ACTIVE,
        },
    )


# --- exports ------------------------------------------------------------------------------------


@manager_page
def exports_page(request):
    from django.shortcuts import redirect

    from apps.reports import exports
    from apps.reports.models import ExportJob

    if request.method == "POST":
        try:
            exports.export_create(
                actor=request.user,
                filters=request.POST.dict(),
                format=request.POST.get("format") or "csv",
                include_transcript=request.POST.get("include_transcript") == "1",
                kind=request.POST.get("kind") or "history",
            )
        except ApplicationError as exc:
            from django.contrib import messages as flash

            flash.error(request, exc.message)
        return redirect("reports:exports")
    jobs = list(ExportJob.objects.filter(tenant_id=request.user.tenant_id, requested_by=request.user)[:30])
    for job in jobs:
        job.filter_words = exports.export_filter_words(job, request.user)
    return render(request, "reports/exports.html", {"jobs": jobs})


# --- follow-ups -----------------------------------------------------------------------------------


@manager_page
def followups_page(request):
    from django.contrib import messages as flash
    from django.shortcuts import redirect

    from apps.reports import services
    from apps.reports.models import FollowUpTask

    if request.method == "POST":
        try:
            services.followup_update(
                actor=request.user,
                task_id=int_param_or_none(request.POST.get("task")) or 0,
                result=request.POST.get("result"),
                outcome=request.POST.get("outcome") or None,
                done=request.POST.get("done") == "1",
            )
            flash.success(request, _("Saved."))
        except ApplicationError as exc:
            flash.error(request, exc.message)
        return redirect("reports:followups")
    status = request.GET.get("status") or "open"
    tasks = FollowUpTask.objects.visible_to(request.user).select_related(
        "conversation", "customer", "assignee", "rating", "leave_message"
    )
    if status in ("open", "done"):
        tasks = tasks.filter(status=status)
    from apps.reports.models import FollowUpOutcome

    return render(
        request,
        "reports/followups.html",
        {"tasks": tasks[:200], "status": status, "outcomes": FollowUpOutcome.choices},
    )


# --- customers ------------------------------------------------------------------------------------


@manager_page
def customers_page(request):
    from apps.customers.models import Customer
    from apps.reports.models import TrackingNotification

    q = (request.GET.get("q") or "").strip()[:100]
    qs = Customer.objects.visible_to(request.user).exclude(attributes__has_key="merged_into").order_by("-id")
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(display_name__icontains=q) | Q(phone__icontains=q) | Q(identities__value=q)).distinct()
    notes = TrackingNotification.objects.filter(user=request.user).select_related("customer")[:30]
    return render(request, "reports/customers.html", {"customers": qs[:100], "q": q, "notifications": notes})


@manager_page
def customer_page(request, pk: int):
    from django.contrib import messages as flash
    from django.shortcuts import redirect

    from apps.customers.merging import customer_merge, customer_split
    from apps.reports import customer_centre, services
    from apps.reports.models import TrackingSubscription

    user = request.user
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "merge":
                customer_merge(actor=user, target_id=pk, source_id=int_param_or_none(request.POST.get("source")) or 0)
                flash.success(request, _("Customers merged."))
            elif action == "split":
                customer_split(actor=user, merge_id=int_param_or_none(request.POST.get("merge")) or 0)
                flash.success(request, _("Merge undone."))
            elif action in ("subscribe", "unsubscribe"):
                services.tracking_subscribe(
                    actor=user,
                    customer_id=pk,
                    webhook_url=request.POST.get("webhook_url", ""),
                    on=action == "subscribe",
                )
                flash.success(request, _("Saved."))
            else:
                raise ApplicationError("invalid_action", _("Unknown action."))
        except ApplicationError as exc:
            flash.error(request, exc.message)
        return redirect("reports:customer", pk=pk)
    profile = customer_centre.customer_profile(actor=user, customer_id=pk)
    from apps.privacy.services import customer_view_record

    customer_view_record(actor=user, customer_id=pk, where="customer_centre")
    profile["subscribed"] = TrackingSubscription.objects.filter(customer_id=pk, user=user).first()
    return render(request, "reports/customer.html", profile)
