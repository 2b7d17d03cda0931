"""F18–F20: an agent's own statistics, computed from the rows the product already writes:
ConversationEvent (lifecycle), Message, Rating, and the agent status events of dispatch."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import Avg, Count
from django.utils import timezone

from apps.workbench.selectors import conversations_of_agent


def _status_events(actor, start: datetime, end: datetime):
    """(at, status) pairs for the agent, oldest first, plus the status in force at `start`.

    The supervisor centre (apps.reports.AgentStatusLog) records every change of status."""
    from apps.reports.models import AgentStatusLog

    qs = AgentStatusLog.objects.filter(tenant_id=actor.tenant_id, agent_id=actor.pk)
    before = qs.filter(created_at__lt=start).order_by("-created_at", "-id").values_list("status", flat=True).first()
    rows = list(
        qs.filter(created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")
        .values_list("created_at", "previous", "status")
    )
    if before is None and rows:
        before = rows[0][1] or None
    return before, [(at, status) for at, _previous, status in rows]


def status_durations(
    *, initial: str | None, events: list[tuple[datetime, str]], start: datetime, end: datetime
) -> dict:
    """Seconds spent in each status between start and end (end is capped at now)."""
    end = min(end, timezone.now())
    totals: dict[str, float] = {}
    current, since = initial, start
    for at, status in events:
        if current:
            totals[current] = totals.get(current, 0.0) + max(0.0, (at - since).total_seconds())
        current, since = status, at
    if current and end > since:
        totals[current] = totals.get(current, 0.0) + (end - since).total_seconds()
    return {k: int(v) for k, v in totals.items() if v > 0}


LOGGED_IN_STATUSES = {"online", "busy", "away", "invisible"}


def agent_stats(*, actor, start: datetime, end: datetime) -> dict:
    from apps.conversations.models import ConversationEvent, Rating
    from apps.messaging.models import Message

    # Received = every time the conversation became active in my hands (assignment, accept,
    # accepted transfer): the lifecycle rows name the agent and the new status.
    received_rows = ConversationEvent.objects.filter(
        tenant_id=actor.tenant_id, agent=actor, to_status="active", created_at__gte=start, created_at__lt=end
    )
    received_ids = set(received_rows.values_list("conversation_id", flat=True))
    my_msgs = Message.objects.filter(
        tenant_id=actor.tenant_id,
        sender_user=actor,
        sender_kind__in=["agent", "supervisor"],
        created_at__gte=start,
        created_at__lt=end,
    )
    answered_ids = set(my_msgs.filter(conversation_id__in=received_ids).values_list("conversation_id", flat=True))
    ratings = Rating.objects.filter(tenant_id=actor.tenant_id, agent=actor, created_at__gte=start, created_at__lt=end)
    rating_agg = ratings.aggregate(n=Count("id"), avg=Avg("score"))
    by_score = dict(ratings.values_list("score").annotate(n=Count("id")).values_list("score", "n"))
    closed = (
        ConversationEvent.objects.filter(
            tenant_id=actor.tenant_id,
            to_status="closed",
            created_at__gte=start,
            created_at__lt=end,
            conversation__in=conversations_of_agent(actor=actor),
        )
        .values("conversation_id")
        .distinct()
        .count()
    )
    initial, events = _status_events(actor, start, end)
    durations = status_durations(initial=initial, events=events, start=start, end=end)
    logged_in = sum(v for k, v in durations.items() if k in LOGGED_IN_STATUSES)

    # Per-day series for the charts, in the tenant's time zone (the middleware activated it).
    tz = timezone.get_current_timezone()
    days: list[date] = []
    d = timezone.localtime(start, tz).date()
    last = timezone.localtime(end - timedelta(microseconds=1), tz).date()
    while d <= last and len(days) < 92:
        days.append(d)
        d += timedelta(days=1)
    per_day_conv = {day: 0 for day in days}
    for at in received_rows.values_list("created_at", flat=True):
        key = timezone.localtime(at, tz).date()
        if key in per_day_conv:
            per_day_conv[key] += 1
    per_day_msg = {day: 0 for day in days}
    for at in my_msgs.values_list("created_at", flat=True):
        key = timezone.localtime(at, tz).date()
        if key in per_day_msg:
            per_day_msg[key] += 1
    received = len(received_ids)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "received": received,
        "closed": closed,
        "messages_sent": my_msgs.count(),
        "answered": len(answered_ids),
        "connect_rate": round(len(answered_ids) / received, 4) if received else None,
        "ratings": rating_agg["n"] or 0,
        "average_score": round(rating_agg["avg"], 2) if rating_agg["avg"] is not None else None,
        "ratings_by_score": {str(s): by_score.get(s, 0) for s in range(1, 6)},
        "logged_in_seconds": logged_in,
        "status_seconds": durations,
        "per_day": [
            {"date": day.isoformat(), "conversations": per_day_conv[day], "messages": per_day_msg[day]} for day in days
        ],
    }


def bar_chart(series: list[tuple[str, int]], *, width: int = 560, height: int = 160) -> dict:
    """Geometry for a server-rendered inline SVG bar chart (no JS, no CDN)."""
    n = max(len(series), 1)
    top = max([v for _, v in series] + [1])
    gap = 4
    bar_w = min(48, max(2, (width - gap * (n + 1)) // n))
    bars = []
    for i, (label, value) in enumerate(series):
        h = int((height - 20) * value / top)
        x = gap + i * (bar_w + gap)
        bars.append(
            {
                "x": x,
                "y": height - 16 - h,
                "w": bar_w,
                "h": h,
                "label": label,
                "value": value,
                "tx": x + bar_w // 2,
                "show_label": n <= 14 or i % max(1, n // 7) == 0,
            }
        )
    return {"width": width, "height": height, "bars": bars, "max": top, "baseline": height - 16}


def fmt_duration(seconds: int) -> str:
    """1:02:03 style, for durations on the statistics page."""
    seconds = int(seconds or 0)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"
