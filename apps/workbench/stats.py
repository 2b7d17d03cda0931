"""F18–F20: an agent's own statistics, computed from the rows the product already writes:
ConversationEvent (lifecycle), Message, Rating, and the agent status events of dispatch."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from apps.reports import metrics


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


def agent_stats(*, actor, start: datetime, end: datetime) -> dict:
    """My figures, by the report definitions (apps.reports.metrics) and from the same rows the
    supervisors' reports read: the agent's row of the agent report, wherever the work was done."""
    from apps.reports.models import Grain, ReportRow
    from apps.reports.selectors import Range, figure_cells, finish
    from apps.tenants.time import tenant_tz

    tz = tenant_tz(actor.tenant)
    rng = Range(start, end, Grain.DAY, tz)
    cells = figure_cells(
        ReportRow, tenant_id=actor.tenant_id, rng=rng, branch_ids=None, keys=("bucket",), agent_id=actor.pk
    )
    per_bucket = {timezone.localtime(k[0], tz).date(): finish(dict(cell)) for k, cell in cells.items()}
    total = finish({c: sum(cell[c] for cell in per_bucket.values()) for c in metrics.COUNTERS})
    days: list[date] = []
    d = timezone.localtime(start, tz).date()
    last = timezone.localtime(end - timedelta(microseconds=1), tz).date()
    while d <= last and len(days) < 400:
        days.append(d)
        d += timedelta(days=1)
    status_seconds = {
        "online": round(total["online_s"]),
        "busy": round(total["busy_s"]),
        "away": round(total["away_s"]),
        "invisible": round(total["logged_in_s"] - total["online_s"] - total["busy_s"] - total["away_s"]),
    }
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "received": int(total["agent_accepted"]),
        "offered": int(total["agent_offered"]),
        "connect_rate": total["agent_connect_rate"],
        "closed": int(total["aht_count"]),
        "answered": int(total["frt_count"]),
        "first_response_avg": total["frt_avg"],
        "handling_avg": total["aht_avg"],
        "wait_avg": total["wait_avg"],
        "messages_sent": int(total["messages_agent"]),
        "ratings": int(total["ratings"]),
        "satisfaction": total["satisfaction"],
        "average_score": total["score_avg"],
        "ratings_by_score": {str(s): int(total[f"score_{s}"]) for s in range(1, 6)},
        "logged_in_seconds": round(total["logged_in_s"]),
        "status_seconds": {k: v for k, v in status_seconds.items() if v > 0},
        "per_day": [
            {
                "date": day.isoformat(),
                "conversations": int(per_bucket[day]["agent_accepted"]) if day in per_bucket else 0,
                "messages": int(per_bucket[day]["messages_agent"]) if day in per_bucket else 0,
            }
            for day in days
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
    """1:02:03 style, for durations on the statistics page (the reports' own format)."""
    return metrics.hms(seconds or 0)
