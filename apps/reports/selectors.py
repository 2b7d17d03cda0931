"""Reads of the supervisor centre, scoped to the actor (tenant, and branch subtree for supervisors)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from django.db.models import Sum
from django.utils.translation import gettext as _

from apps.accounts.models import Branch, User
from apps.accounts.selectors import require_manager
from apps.channels.models import Channel
from apps.conversations.models import ConversationTag
from apps.core.errors import ApplicationError, NotFound
from apps.reports import metrics, rollups
from apps.reports.models import LOWER_IS_BETTER, Grain, KpiTarget, ReportRow, TagReportRow
from apps.tenants.time import day_range, local_today

DIMENSIONS = ("agent", "branch", "channel", "tag")
MAX_RANGE_DAYS = 400
MAX_HOUR_RANGE_DAYS = 31


def scope_branches(*, actor, branch_id: int | None = None) -> tuple[list[Branch], bool]:
    """Branches the actor may report on (optionally narrowed to one subtree), and whether rows
    without a branch are included (super admins and platform operators only)."""
    require_manager(actor)
    qs = Branch.objects.visible_to(actor)
    include_none = actor.is_super_admin or actor.is_platform_operator
    if branch_id:
        root = qs.filter(pk=branch_id).first()
        if root is None:
            raise NotFound(_("Branch not found."))
        qs = qs.filter(path__startswith=root.path, tenant_id=root.tenant_id)
        include_none = False
    return list(qs), include_none


@dataclass
class Range:
    start: datetime
    end: datetime
    grain: str
    tz: tzinfo


def parse_range(*, tz: tzinfo, date_from: str | None, date_to: str | None, grain: str | None) -> Range:
    """Local dates (inclusive) -> an aware [start, end) range; default the last 7 days."""
    today = local_today(tz)
    try:
        d_to = date.fromisoformat(date_to) if date_to else today
        d_from = date.fromisoformat(date_from) if date_from else d_to - timedelta(days=6)
    except ValueError as exc:
        raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31.")) from exc
    if d_from > d_to:
        raise ApplicationError("invalid_range", _("The start date is after the end date."))
    grain = grain or Grain.DAY
    if grain not in (Grain.DAY, Grain.HOUR):
        raise ApplicationError("invalid_grain", _("Choose a range by day or by hour."))
    days = (d_to - d_from).days + 1
    if days > MAX_RANGE_DAYS or (grain == Grain.HOUR and days > MAX_HOUR_RANGE_DAYS):
        raise ApplicationError("range_too_long", _("The range is too long for this view."))
    try:
        start, end = day_range(tz, d_from, d_to)
    except OverflowError as exc:  # to=9999-12-31
        raise ApplicationError("invalid_date", _("Dates must look like 2026-01-31.")) from exc
    return Range(start, end, grain, tz)


def _scope_ids(*, actor, branch_id: int | None) -> tuple[list[Branch], list[int]]:
    branches, include_none = scope_branches(actor=actor, branch_id=branch_id)
    return branches, [b.pk for b in branches] + ([0] if include_none else [])


def _bucket_of(rng: Range):
    if rng.grain == Grain.HOUR:
        return lambda hour: hour
    return lambda hour: rollups.local_day_start(hour, rng.tz)


class _Cells:
    """Counter sums per key, added to and taken from."""

    def __init__(self, counters):
        self.counters = counters
        self.out: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(counters, 0.0))

    def add(self, key: tuple, row: dict, sign: int = 1) -> None:
        cell = self.out[key]
        for c in self.counters:
            cell[c] += sign * (row.get(c) or 0)

    def nonzero(self) -> dict[tuple, dict]:
        return {k: v for k, v in self.out.items() if any(v.values())}


def _figure_scope(*, tenant_id: int | None, branch_ids: list[int] | None, agent_id) -> dict:
    scope: dict = {}
    if tenant_id is not None:
        scope["tenant_id"] = tenant_id
    if branch_ids is not None:
        scope["branch_id__in"] = branch_ids
    if agent_id is not None:
        scope["agent_id"] = agent_id
    return scope


def figure_cells(
    model, *, tenant_id: int | None, rng: Range, branch_ids: list[int] | None, keys: tuple[str, ...], agent_id=None
) -> dict[tuple, dict]:
    """Summed counters per `keys` over the range: the stored rollup rows, with the hours that the
    stored rows do not hold yet (rollups.live_hours) computed from the raw rows instead. Every
    figure on every screen, export and API comes from here."""
    counters = metrics.TAG_COUNTERS if model is TagReportRow else metrics.COUNTERS
    sums = {c: Sum(c) for c in counters}
    by_agent = "agent_id" in keys or agent_id is not None
    grain = Grain.DAY_BY_AGENT if (by_agent and rng.grain == Grain.DAY and model is ReportRow) else rng.grain
    scope = _figure_scope(tenant_id=tenant_id, branch_ids=branch_ids, agent_id=agent_id)
    cells = _Cells(counters)
    stored = model.objects.filter(grain=grain, bucket__gte=rng.start, bucket__lt=rng.end, **scope)
    for r in stored.values(*keys).annotate(**sums):
        cells.add(tuple(r[k] for k in keys), r)
    hours = _live_hours(rng, tenant_id) if tenant_id else []
    if tenant_id and hours:
        _replace_live_hours(cells, model, rng=rng, tenant_id=tenant_id, hours=hours, scope=scope, keys=keys, sums=sums)
    return cells.nonzero()


def _replace_live_hours(
    cells: _Cells, model, *, rng: Range, tenant_id: int, hours: list, scope: dict, keys: tuple[str, ...], sums: dict
) -> None:
    """Take the stored rows of the live hours out and put their figures computed from the raw rows in."""
    bucket = _bucket_of(rng)
    dims = [k for k in keys if k != "bucket"]
    stale = model.objects.filter(grain=Grain.HOUR, bucket__in=hours, **scope)
    for r in stale.values("bucket", *dims).annotate(**sums):
        r["bucket"] = bucket(r["bucket"])
        cells.add(tuple(r[k] for k in keys), r, sign=-1)
    cube, tags = _live_cells(rng, tenant_id, hours)
    is_tags = model is TagReportRow
    fields = ("bucket", "branch_id", "tag_id") if is_tags else ("bucket", "branch_id", "agent_id", "channel_id")
    branch_ids, agent_id = scope.get("branch_id__in"), scope.get("agent_id")
    for cell_key, cell in (tags if is_tags else cube).items():
        row = dict(zip(fields, cell_key, strict=True))
        if branch_ids is not None and row["branch_id"] not in branch_ids:
            continue
        if agent_id is not None and row.get("agent_id") != agent_id:
            continue
        row["bucket"] = bucket(row["bucket"])
        row.update(cell)
        cells.add(tuple(row.get(k, 0) for k in keys), row)


def _live_hours(rng: Range, tenant_id: int) -> list:
    cache = rng.__dict__.setdefault("_live_hours", {})
    if tenant_id not in cache:
        cache[tenant_id] = rollups.live_hours(tenant_id=tenant_id, start=rng.start, end=rng.end)
    return cache[tenant_id]


def _live_cells(rng: Range, tenant_id: int, hours: list):
    """The live hours computed once per request (a Range is built per request)."""
    cache = rng.__dict__.setdefault("_live", {})
    key = (tenant_id, tuple(hours))
    if key not in cache:
        cache[key] = rollups.compute_hours(tenant_id, hours)
    return cache[key]


def _base_cells(model, *, actor, rng: Range, branch_id: int | None, keys: tuple[str, ...]):
    branches, ids = _scope_ids(actor=actor, branch_id=branch_id)
    tenant_id = None if actor.is_platform_operator else actor.tenant_id
    return figure_cells(model, tenant_id=tenant_id, rng=rng, branch_ids=ids, keys=keys), branches


def finish(row: dict) -> dict:
    """Counters -> every figure of a row (ratios, averages, hours), by metrics' definitions."""
    for c in metrics.COUNTERS:
        row[c] = row.get(c) or 0
    row.update(metrics.derived(row))
    for c in ("logged_in", "online", "busy", "away"):
        row[f"{c}_h"] = round(row[f"{c}_s"] / 3600, 1)
    return row


_finish = finish


def report_table(*, actor, dimension: str, rng: Range, branch_id: int | None = None) -> dict:
    """Totals per agent / branch / channel / tag over the range, plus the grand total."""
    if dimension not in DIMENSIONS:
        raise ApplicationError("invalid_dimension", _("Unknown report dimension."))
    model = TagReportRow if dimension == "tag" else ReportRow
    counters = metrics.TAG_COUNTERS if dimension == "tag" else metrics.COUNTERS
    key = f"{dimension}_id"
    cells, branches = _base_cells(model, actor=actor, rng=rng, branch_id=branch_id, keys=(key,))
    rows = [finish({key: k[0], **cell}) for k, cell in sorted(cells.items())]
    # The grand total is the sum of the groups.
    total = finish({c: sum(r[c] or 0 for r in rows) for c in counters})
    if dimension == "agent":
        rows = [r for r in rows if r[key]]
    names = _names(dimension, [r[key] for r in rows], branches)
    for r in rows:
        r["id"] = r[key]
        r["name"] = names.get(r[key]) or (_("(none)") if not r[key] else f"#{r[key]}")
    rows.sort(key=lambda r: r["name"])
    return {"dimension": dimension, "rows": rows, "total": total}


def _names(dimension: str, ids: list[int], branches: list[Branch]) -> dict[int, str]:
    ids = [i for i in ids if i]
    if dimension == "branch":
        return {b.pk: b.label().strip() for b in branches}
    if dimension == "agent":
        return {u.pk: u.name for u in User.objects.filter(pk__in=ids)}
    if dimension == "channel":
        return {c.pk: c.name for c in Channel.objects.filter(pk__in=ids)}
    return {t.pk: t.name for t in ConversationTag.objects.filter(pk__in=ids)}


def report_series(*, actor, rng: Range, branch_id: int | None = None) -> list[dict]:
    """Totals per bucket (day or hour) for the charts; every bucket of the range is present."""
    cells, _branches = _base_cells(ReportRow, actor=actor, rng=rng, branch_id=branch_id, keys=("bucket",))
    by_bucket = {k[0]: finish(dict(cell)) for k, cell in cells.items()}
    out = []
    cursor = rng.start
    step = timedelta(hours=1) if rng.grain == Grain.HOUR else None
    while cursor < rng.end:
        row = by_bucket.get(cursor) or finish({})
        local = cursor.astimezone(rng.tz)
        row["label"] = local.strftime("%m-%d %H:00" if step else "%m-%d")
        row["bucket"] = cursor
        out.append(row)
        if step:
            cursor += step
        else:
            nxt = (local + timedelta(hours=26)).replace(hour=0, minute=0, second=0, microsecond=0)
            cursor = nxt.astimezone(UTC)
    return out


KPI_VALUE = {
    "connect_rate": "connect_rate",
    "satisfaction": "satisfaction",
    "frt": "frt_avg",
    "aht": "aht_avg",
    "accepted": "accepted",
}


def kpi_table(*, actor, rng: Range, branch_id: int | None = None) -> list[dict]:
    """Each branch's figures over its whole subtree against the targets the super admin set."""
    branches, _ids = _scope_ids(actor=actor, branch_id=branch_id)
    targets: dict[int, list[KpiTarget]] = {}
    for t in KpiTarget.objects.filter(branch__in=branches):
        targets.setdefault(t.branch_id, []).append(t)
    if not targets:
        return []
    cells, _branches = _base_cells(ReportRow, actor=actor, rng=rng, branch_id=branch_id, keys=("branch_id",))
    own = {k[0]: cell for k, cell in cells.items()}
    out = []
    for b in branches:
        if b.pk not in targets:
            continue
        agg = dict.fromkeys(metrics.COUNTERS, 0)
        for other in branches:
            if other.path.startswith(b.path) and other.pk in own:
                for c in metrics.COUNTERS:
                    agg[c] += own[other.pk][c] or 0
        finish(agg)
        for t in targets[b.pk]:
            value = agg[KPI_VALUE[t.metric]]
            met = None
            if value is not None:
                met = value <= t.target if t.metric in LOWER_IS_BETTER else value >= t.target
            out.append(
                {
                    "branch": b,
                    "metric": t.get_metric_display(),
                    "metric_key": t.metric,
                    "target": t.target,
                    "value": value,
                    "met": met,
                }
            )
    return out


def monitor_snapshot(*, actor, branch_id: int | None = None, tz=None, now=None) -> dict:
    """F24-F27: what is happening now in the actor's scope (JSON-ready)."""
    from django.db.models import Count, Min
    from django.utils import timezone

    from apps.conversations.models import OPEN_STATUSES, Conversation
    from apps.knowledge.models import KeywordAlert

    now = now or timezone.now()
    branches, _include_none = scope_branches(actor=actor, branch_id=branch_id)
    convs = Conversation.objects.visible_to(actor).filter(status__in=OPEN_STATUSES)
    agents_qs = User.objects.visible_to(actor).agents().filter(is_active=True)
    if branch_id:
        root = branches[0] if branches and branches[0].pk == branch_id else Branch.objects.get(pk=branch_id)
        convs = convs.filter(branch__path__startswith=root.path)
        agents_qs = agents_qs.filter(branch__path__startswith=root.path)
    by_status = {r["status"]: r["n"] for r in convs.values("status").annotate(n=Count("id"))}
    names = {b.pk: b.name for b in branches}
    queues = []
    for r in convs.filter(status="queued").values("branch_id").annotate(n=Count("id"), oldest=Min("queued_at")):
        wait = int((now - r["oldest"]).total_seconds()) if r["oldest"] else 0
        queues.append(
            {
                "branch_id": r["branch_id"],
                "branch": names.get(r["branch_id"], _("(none)")),
                "length": r["n"],
                "longest_wait_s": max(0, wait),
            }
        )
    queues.sort(key=lambda q: (-q["length"], q["branch"]))
    load = dict(
        convs.filter(status__in=["active", "transfer_pending"]).values_list("assignee_id").annotate(n=Count("id"))
    )
    agents = [
        {
            "id": u.pk,
            "name": u.name,
            "status": u.status,
            "branch": names.get(u.branch_id, ""),
            "active_chats": load.get(u.pk, 0),
            "max_chats": u.max_chats,
        }
        for u in agents_qs.order_by("status", "username")[:500]
    ]
    agents_by_status: dict[str, int] = {}
    for a in agents:
        agents_by_status[a["status"]] = agents_by_status.get(a["status"], 0) + 1
    today = {}
    if tz is not None:
        # Today's figures of the scope: the branch report's total for the tenant's today (the
        # same definitions and the same rows as the report page), with their display text.
        local = now.astimezone(tz).date().isoformat()
        rng = parse_range(tz=tz, date_from=local, date_to=local, grain=Grain.HOUR)
        total = report_table(actor=actor, dimension="branch", rng=rng, branch_id=branch_id)["total"]
        columns = metrics.report_columns("branch")
        today = {k: total[k] for k, _label, _kind in columns}
        today.update({k: total[k] for k in ("offered", "accepted", "abandoned", "ratings")})
        today["date"] = local
        today["display"] = {k: metrics.display(total[k], kind) for k, _label, kind in columns}
    # Keyword alerts are the knowledge base's (F53: one list of words per tenant, configured once,
    # raised once per conversation and keyword); the monitor shows those of open conversations.
    alerts = [
        {
            "conversation_id": h.conversation_id,
            "customer": str(h.conversation.customer),
            "keyword": h.word,
            "severity": h.severity,
            "excerpt": h.excerpt,
            "status": h.conversation.status,
            "agent": h.conversation.assignee.name if h.conversation.assignee else "",
        }
        for h in KeywordAlert.objects.filter(conversation__in=convs)
        .select_related("conversation", "conversation__assignee", "conversation__customer")
        .order_by("-id")[:20]
    ]
    return {
        "at": now.isoformat(),
        "branch_id": branch_id,
        "conversations": {s: by_status.get(s, 0) for s in ("bot", "queued", "active", "transfer_pending")},
        "queues": queues,
        "agents_by_status": agents_by_status,
        "agents": agents,
        "today": today,
        "alerts": alerts,
    }
