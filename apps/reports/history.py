"""History (F31/F32): one filter definition shared by the history page, the API and exports."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError, NotFound
from apps.core.params import int_param
from apps.reports.selectors import require_manager
from apps.tenants.time import day_range, local_today

PAGE_SIZE = 50
MAX_DAYS = 400
MAX_TEXT = 100
SATISFACTION_CHOICES = ("1", "2", "3", "4", "5", "dissatisfied", "satisfied", "unrated")


@dataclass
class HistoryFilter:
    date_from: str = ""
    date_to: str = ""
    channel: int | None = None
    branch: int | None = None
    agent: int | None = None
    customer: str = ""
    tag: int | None = None
    satisfaction: str = ""
    status: str = ""
    text: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def history_filter_parse(data) -> HistoryFilter:
    """Validate a filter from a query string or JSON body; bad input -> 400, nothing else."""
    get = data.get
    f = HistoryFilter(
        date_from=(get("date_from") or get("from") or "").strip(),
        date_to=(get("date_to") or get("to") or "").strip(),
        channel=int_param(get("channel"), name="channel"),
        branch=int_param(get("branch"), name="branch"),
        agent=int_param(get("agent"), name="agent"),
        customer=(get("customer") or "").strip()[:100],
        tag=int_param(get("tag"), name="tag"),
        satisfaction=(get("satisfaction") or "").strip(),
        status=(get("status") or "").strip(),
        text=(get("text") or get("q") or "").strip(),
    )
    for value in (f.date_from, f.date_to):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31.")) from exc
    if f.satisfaction and f.satisfaction not in SATISFACTION_CHOICES:
        raise ApplicationError("invalid_filter", _("Invalid value for %(field)s.") % {"field": "satisfaction"})
    if len(f.text) > MAX_TEXT:
        raise ApplicationError("text_too_long", _("The search text is too long."))
    return f


def history_range(f: HistoryFilter, tz) -> tuple[datetime, datetime]:
    today = local_today(tz)
    d_to = date.fromisoformat(f.date_to) if f.date_to else today
    d_from = date.fromisoformat(f.date_from) if f.date_from else d_to - timedelta(days=30)
    if d_from > d_to:
        raise ApplicationError("invalid_range", _("The start date is after the end date."))
    if (d_to - d_from).days > MAX_DAYS:
        raise ApplicationError("range_too_long", _("The range is too long for this view."))
    try:
        return day_range(tz, d_from, d_to)
    except OverflowError as exc:  # to=9999-12-31
        raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31.")) from exc


def history_queryset(*, actor, f: HistoryFilter, tz, search_limit: int | None = None):
    """Conversations matching the filter inside the actor's scope, newest first.

    A text filter keeps the newest `search_limit` matching conversations (the screens: 2000;
    exports ask for more)."""
    require_manager_or_agent(actor)
    start, end = history_range(f, tz)
    qs = Conversation.objects.visible_to(actor).filter(created_at__gte=start, created_at__lt=end)
    if not actor.is_manager:
        # Agents ("my history") see the conversations they served.
        qs = qs.filter(Q(assignee=actor) | Q(events__agent=actor)).distinct()
    if f.channel:
        qs = qs.filter(channel_id=f.channel)
    if f.branch:
        from apps.accounts.models import Branch

        root = Branch.objects.visible_to(actor).filter(pk=f.branch).first()
        if root is None:
            raise NotFound(_("Branch not found."))
        qs = qs.filter(branch__path__startswith=root.path)
    if f.agent:
        qs = qs.filter(assignee_id=f.agent)
    if f.customer:
        qs = qs.filter(customer__display_name__icontains=f.customer)
    if f.tag:
        qs = qs.filter(tags__id=f.tag)
    if f.status:
        qs = qs.filter(status=f.status)
    s = f.satisfaction
    if s in ("1", "2", "3", "4", "5"):
        qs = qs.filter(rating__score=int(s))
    elif s == "dissatisfied":
        qs = qs.filter(rating__score__lte=2)
    elif s == "satisfied":
        qs = qs.filter(rating__score__gte=4)
    elif s == "unrated":
        qs = qs.filter(rating__isnull=True)
    if f.text:
        from apps.search.selectors import MAX_CONVERSATIONS, get_backend

        backend = get_backend()
        limit = min(search_limit or MAX_CONVERSATIONS, backend.max_limit)
        ids = backend.search_conversation_ids(tenant_id=actor.tenant_id, text=f.text, start=start, end=end, limit=limit)
        qs = qs.filter(pk__in=ids)
    # (-created_at, id) is the order of conv_history_idx (tenant, -created_at) plus InnoDB's
    # ascending primary-key suffix: the first page is read off the index, no filesort.
    return qs.order_by("-created_at", "id")


def require_manager_or_agent(actor) -> None:
    if not (actor and actor.is_authenticated and actor.is_active and actor.tenant_id):
        raise NotFound()
    if not (actor.is_manager or actor.is_agent_role):
        require_manager(actor)


def history_page(*, actor, f: HistoryFilter, tz, page: int = 1):
    """One page (keyset-free offset, no COUNT over millions of rows: has_next instead)."""
    page = max(1, min(page, 1000))
    # Channels and branches are few: prefetched apart, because joining them made MariaDB sort
    # the whole range in a temporary table.
    qs = (
        history_queryset(actor=actor, f=f, tz=tz)
        .select_related("customer", "assignee", "rating")
        .prefetch_related("channel", "branch")
    )
    rows = list(qs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
