"""Server-rendered pages of the workbench: parse, call a selector, render."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from apps.accounts.models import AgentStatus, Role, SkillGroup, User
from apps.channels.models import Channel
from apps.conversations.models import ConversationStatus, ConversationTag
from apps.core.errors import ApplicationError, NotFound
from apps.core.replica import replica_reads
from apps.messaging.recall import recall_window_seconds
from apps.reports.metrics import DEFINITIONS
from apps.tenants.time import local_today, tenant_tz
from apps.workbench import selectors, stats
from apps.workbench.api.views import history_filters, history_row, parse_range


def _require_agent(request: HttpRequest) -> None:
    if not request.user.tenant_id or not request.user.is_agent_role:
        raise Http404


def _bootstrap(user: User) -> dict:
    """The first paint of the workbench comes with the data, so the page is useful before the
    websocket is up; the live layer (REST + /ws/agent/) takes over from there."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    from apps.conversations.models import Conversation, Participant
    from apps.conversations.serializers import conversation_to_dict
    from apps.messaging.models import Message

    # Unread = the customer's messages after my read mark, one correlated count per row.
    my_mark = Participant.objects.filter(conversation_id=OuterRef("conversation_id"), user=user).values(
        "last_read_seq"
    )[:1]
    unread = (
        Message.objects.filter(conversation_id=OuterRef("pk"), sender_kind="visitor")
        .filter(seq__gt=Coalesce(Subquery(my_mark, output_field=IntegerField()), Value(0)))
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    mine = (
        Conversation.objects.filter(
            tenant_id=user.tenant_id,
            assignee=user,
            status__in=[ConversationStatus.ACTIVE, ConversationStatus.TRANSFER_PENDING],
        )
        .select_related("customer", "channel", "sla")
        .annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)))
        .order_by("id")[:200]
    )
    queue = (
        selectors.queue_for_agent(actor=user)
        .select_related("customer", "channel", "sla")
        .order_by("-priority", "queued_at", "id")[:200]
    )

    def row(c):
        d = conversation_to_dict(c)
        d["channel_name"] = c.channel.name
        d["channel_kind"] = c.channel.kind
        d["last_visitor_message_at"] = c.last_visitor_message_at.isoformat() if c.last_visitor_message_at else None
        d["last_agent_message_at"] = c.last_agent_message_at.isoformat() if c.last_agent_message_at else None
        d["unread"] = getattr(c, "unread", 0)
        return d

    colleagues = (
        User.objects.filter(tenant_id=user.tenant_id, is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR])
        .exclude(pk=user.pk)
        .order_by("display_name", "username")[:500]
    )
    return {
        "me": {
            "id": user.pk,
            "name": user.name,
            "status": user.status,
            "max_chats": user.max_chats,
            "max_chats_cap": user.max_chats_cap,
            "tenant_id": user.tenant_id,
            "is_manager": user.is_manager,
        },
        # How long after sending my own message I may recall it (apps.messaging.recall).
        "recall_seconds": recall_window_seconds(tenant_id=user.tenant_id),
        "conversations": [row(c) for c in mine],
        "queue": [row(c) for c in queue],
        "tags": [
            {"id": t.pk, "name": t.name, "color": t.color}
            for t in ConversationTag.objects.filter(tenant_id=user.tenant_id, is_enabled=True)
        ],
        "skill_groups": [
            {"id": g.pk, "name": g.name}
            for g in SkillGroup.objects.visible_to(user).filter(is_enabled=True).order_by("name")
        ],
        "agents": [{"id": a.pk, "name": a.name, "status": a.status} for a in colleagues],
        "channels": {str(c.pk): c.name for c in Channel.objects.filter(tenant_id=user.tenant_id).only("pk", "name")},
        "statuses": [{"value": v, "label": str(label)} for v, label in AgentStatus.choices if v != AgentStatus.OFFLINE],
        "server_time": timezone.now().isoformat(),
        # Days and times are the tenant's (the date separators, "today"), not the browser's.
        "time_zone": timezone.get_current_timezone_name(),
    }


@never_cache
@login_required
def workbench(request: HttpRequest):
    _require_agent(request)
    return render(request, "workbench/workbench.html", {"bootstrap": _bootstrap(request.user)})


@login_required
@replica_reads()
def history(request: HttpRequest):
    """F15/F17: my past conversations with filters; export of the filtered set."""
    _require_agent(request)
    error = None
    try:
        filters = history_filters(request.GET, tz=tenant_tz(user=request.user))
        qs = selectors.history_list(actor=request.user, **filters)
    except ApplicationError as exc:
        error = str(exc.message)
        qs = selectors.history_list(actor=request.user)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "workbench/history.html",
        {
            "page": page,
            "rows": [{**history_row(c), "started": timezone.localtime(c.created_at)} for c in page.object_list],
            "error": error,
            "channels": Channel.objects.filter(tenant_id=request.user.tenant_id).order_by("name"),
            "tags": ConversationTag.objects.filter(tenant_id=request.user.tenant_id),
            "f": request.GET,
            "query": query.urlencode(),
            "export_available": _export_available(),
            # The export's default range in the tenant's dates (the middleware activated its zone).
            "default_to": local_today(tenant_tz(user=request.user)),
            "default_from": local_today(tenant_tz(user=request.user)) - timedelta(days=365),
        },
    )


def _export_available() -> bool:
    """The export itself (Celery, CSV/XLSX, progress) belongs to apps.reports' ExportJob."""
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("v1:export-list")
    except NoReverseMatch:
        return False
    return True


@login_required
def transcript(request: HttpRequest, conversation_id: int):
    _require_agent(request)
    try:
        conv, messages = selectors.transcript(actor=request.user, conversation_id=conversation_id)
    except NotFound:
        raise Http404
    from apps.messaging.attachments import payload_with_signed_urls

    messages = list(messages)
    for m in messages:
        m.attachment = (payload_with_signed_urls(m.payload or {}) or {}).get("attachment")
    return render(request, "workbench/transcript.html", {"conv": conv, "messages": messages, "row": history_row(conv)})


@login_required
@replica_reads()
def my_stats(request: HttpRequest):
    """F18–F20: today and a chosen range."""
    _require_agent(request)
    tz = tenant_tz(user=request.user)
    error = None
    try:
        start, end = parse_range(request.GET, tz=tz)
    except ApplicationError as exc:
        error = str(exc.message)
        start, end = parse_range({}, tz=tz)
    today_start, today_end = parse_range({}, tz=tz)
    data = stats.agent_stats(actor=request.user, start=start, end=end)
    today = (
        data
        if (start, end) == (today_start, today_end)
        else stats.agent_stats(actor=request.user, start=today_start, end=today_end)
    )
    labels = dict(AgentStatus.choices)
    status_rows = [
        {
            "status": k,
            "label": labels.get(k, k),
            "seconds": v,
            "display": stats.fmt_duration(v),
            "pct": round(100 * v / max(sum(data["status_seconds"].values()), 1)),
        }
        for k, v in sorted(data["status_seconds"].items(), key=lambda kv: -kv[1])
    ]
    return render(
        request,
        "workbench/stats.html",
        {
            "data": data,
            "today": today,
            "error": error,
            "status_rows": status_rows,
            "tz_name": str(tz),
            "today_date": local_today(tz).isoformat(),
            "definitions": DEFINITIONS,
            "from": timezone.localtime(start, tz).date().isoformat(),
            "to": (timezone.localtime(end, tz) - timedelta(days=1)).date().isoformat(),
            "conv_chart": stats.bar_chart([(d["date"][5:], d["conversations"]) for d in data["per_day"]]),
            "msg_chart": stats.bar_chart([(d["date"][5:], d["messages"]) for d in data["per_day"]]),
            "score_chart": stats.bar_chart([(f"{s}★", n) for s, n in data["ratings_by_score"].items()], width=300),
        },
    )
