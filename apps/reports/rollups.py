"""Rollups: raw rows -> ReportRow / TagReportRow, idempotent and rebuildable.

`rollup_rebuild(tenant_id, start, end)` recomputes every hour in [start, end) from the raw rows
(and the service-level clocks, whose due instants decide breaches)
and replaces the stored rows (then the day rows of the touched local days). Running it twice
gives the same rows. New and late raw rows are found by id cursors (`rollup_mark_new_rows`):
each marks the hours it can change as dirty, and `rollup_refresh` recomputes dirty hours. A late
event (created_at in the past) therefore fixes the old buckets it belongs to.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Max, Min, Q, Sum
from django.utils import timezone

from apps.accounts.models import AgentStatusLog, User
from apps.conversations.models import Conversation, ConversationEvent, Rating
from apps.messaging.models import Message
from apps.reports import metrics
from apps.reports.models import DirtyBucket, Grain, ReportRow, RollupCursor, TagReportRow
from apps.sla.models import SlaBreach, SlaClock
from apps.tenants.time import tenant_tz

CHUNK = 2000
MAX_DIRTY_SPAN = timedelta(days=7)


def _chunks(seq, n=CHUNK):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def hour_floor(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(ts: datetime) -> datetime:
    floor = hour_floor(ts)
    return floor if floor == ts else floor + timedelta(hours=1)


# --- computing ------------------------------------------------------------------------------


def compute_range(tenant_id: int, start: datetime, end: datetime, *, now: datetime | None = None):
    """All facts in [start, end) summed into cube and tag cells, keyed by hour."""
    now = now or timezone.now()
    cube: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    tags: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    for ids in _chunks(sorted(_conversations_with_facts(tenant_id, start, end))):
        for conv, conv_tags, facts in _conversation_facts(ids, now=now):
            _add_conversation(cube, tags, conv, conv_tags, facts, start, end)
    _add_status_time(cube, tenant_id, start, end, now)
    return cube, tags


def _conversations_with_facts(tenant_id: int, start: datetime, end: datetime) -> set[int]:
    """Conversations with any fact-bearing row (event, counted message, rating) in the range."""
    in_range = {"tenant_id": tenant_id, "created_at__gte": start, "created_at__lt": end}
    ids = set(ConversationEvent.objects.filter(**in_range).values_list("conversation_id", flat=True).distinct())
    ids |= set(
        Message.objects.filter(**in_range, sender_kind__in=metrics.COUNTED_SENDERS, visibility="all")
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    ids |= set(Rating.objects.filter(**in_range).values_list("conversation_id", flat=True))
    # A service-level target breached at its due instant, when nothing else happened.
    clocks = SlaClock.objects.filter(tenant_id=tenant_id)
    for field in ("first_response_due", "resolution_due"):
        ids |= set(clocks.filter(**{f"{field}__gte": start, f"{field}__lt": end}).values_list("pk", flat=True))
    return ids


def _conversation_facts(ids: list[int], *, now: datetime | None = None):
    """(conversation, tag ids, facts) for a chunk of conversations: six queries a chunk."""
    now = now or timezone.now()
    convs = {c.id: c for c in Conversation.objects.filter(id__in=ids).only("id", "branch_id", "channel_id")}
    events = defaultdict(list)
    for ev in (
        ConversationEvent.objects.filter(conversation_id__in=ids)
        .only("id", "conversation_id", "kind", "from_status", "to_status", "agent_id", "branch_id", "created_at")
        .order_by("conversation_id", "created_at", "id")
    ):
        events[ev.conversation_id].append(ev)
    msgs = defaultdict(list)
    for cid, ts, kind, sender in (
        Message.objects.filter(conversation_id__in=ids, sender_kind__in=metrics.COUNTED_SENDERS, visibility="all")
        .order_by("conversation_id", "created_at", "seq")
        .values_list("conversation_id", "created_at", "sender_kind", "sender_user_id")
    ):
        msgs[cid].append((ts, kind, sender))
    ratings = {r.conversation_id: r for r in Rating.objects.filter(conversation_id__in=ids)}
    clocks = {c.pk: c for c in SlaClock.objects.filter(conversation_id__in=ids)}
    conv_tags = defaultdict(list)
    through = Conversation.tags.through
    for cid, tid in through.objects.filter(conversation_id__in=ids).values_list(
        "conversation_id", "conversationtag_id"
    ):
        conv_tags[cid].append(tid)
    for cid in ids:
        conv = convs.get(cid)
        if conv is None:
            continue
        facts = metrics.conversation_facts(
            conversation=conv,
            events=events[cid],
            messages=msgs[cid],
            rating=ratings.get(cid),
            sla=clocks.get(cid),
            now=now,
        )
        yield conv, conv_tags[cid], facts


def _add_conversation(cube, tags, conv, conv_tags, facts, start, end) -> None:
    for f in facts:
        if not (start <= f.ts < end):
            continue
        hour = hour_floor(f.ts)
        cube[(hour, f.branch_id, f.agent_id, f.channel_id)][f.metric] += f.value
        if f.metric in metrics.TAG_COUNTERS:
            for tid in conv_tags:
                tags[(hour, f.branch_id, tid)][f.metric] += f.value


def _add_status_time(cube, tenant_id: int, start: datetime, end: datetime, now: datetime) -> None:
    logs_by_agent = defaultdict(list)
    for log in AgentStatusLog.objects.filter(tenant_id=tenant_id, created_at__gte=start, created_at__lt=end).order_by(
        "agent_id", "created_at", "id"
    ):
        logs_by_agent[log.agent_id].append(log)
    # The status each agent was in when the range starts.
    before = (
        AgentStatusLog.objects.filter(tenant_id=tenant_id, created_at__lt=start)
        .values("agent_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    for log in AgentStatusLog.objects.filter(id__in=list(before)):
        logs_by_agent[log.agent_id].insert(0, log)
    for logs in logs_by_agent.values():
        for f in metrics.status_facts(logs=logs, start=start, end=end, now=now):
            cube[(hour_floor(f.ts), f.branch_id, f.agent_id, 0)][f.metric] += f.value


# --- storing --------------------------------------------------------------------------------


def _tenant_tz(tenant_id: int):
    return tenant_tz(tenant_id=tenant_id)


def local_day_start(ts: datetime, tz) -> datetime:
    local = ts.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _store_hours(tenant_id: int, start: datetime, end: datetime, cube, tags) -> None:
    ReportRow.objects.filter(tenant_id=tenant_id, grain=Grain.HOUR, bucket__gte=start, bucket__lt=end).delete()
    TagReportRow.objects.filter(tenant_id=tenant_id, grain=Grain.HOUR, bucket__gte=start, bucket__lt=end).delete()
    rows = [
        ReportRow(
            tenant_id=tenant_id,
            grain=Grain.HOUR,
            bucket=hour,
            branch_id=b,
            agent_id=a,
            channel_id=c,
            **{k: v for k, v in cell.items() if v},
        )
        for (hour, b, a, c), cell in cube.items()
        if any(cell.values())
    ]
    ReportRow.objects.bulk_create(rows, batch_size=1000)
    tag_rows = [
        TagReportRow(
            tenant_id=tenant_id,
            grain=Grain.HOUR,
            bucket=hour,
            branch_id=b,
            tag_id=t,
            **{k: v for k, v in cell.items() if v and k in metrics.TAG_COUNTERS},
        )
        for (hour, b, t), cell in tags.items()
        if any(cell.values())
    ]
    TagReportRow.objects.bulk_create(tag_rows, batch_size=1000)


def _store_days(tenant_id: int, start: datetime, end: datetime) -> None:
    """Day rows = sums of the hour rows of each local day touched by [start, end)."""
    tz = _tenant_tz(tenant_id)
    day = local_day_start(start, tz)
    while day < end:
        nxt = local_day_start(day + timedelta(hours=26), tz)
        for model, grain, dims, counters in (
            (ReportRow, Grain.DAY, ("branch_id", "channel_id"), metrics.COUNTERS),
            (ReportRow, Grain.DAY_BY_AGENT, ("branch_id", "agent_id"), metrics.COUNTERS),
            (TagReportRow, Grain.DAY, ("branch_id", "tag_id"), metrics.TAG_COUNTERS),
        ):
            model.objects.filter(tenant_id=tenant_id, grain=grain, bucket=day).delete()
            sums = (
                model.objects.filter(tenant_id=tenant_id, grain=Grain.HOUR, bucket__gte=day, bucket__lt=nxt)
                .values(*dims)
                .annotate(**{c: Sum(c) for c in counters})
            )
            model.objects.bulk_create(
                [model(tenant_id=tenant_id, grain=grain, bucket=day, **s) for s in sums], batch_size=1000
            )
        day = nxt


def _lock(tenant_id: int):
    return f"reports:rollup-lock:{tenant_id}"


def rollup_rebuild(*, tenant_id: int, start: datetime, end: datetime, now: datetime | None = None) -> int:
    """Recompute and replace every rollup row of [start, end) (widened to whole hours). Returns hours."""
    start, end = hour_floor(start), hour_ceil(end)
    hours = 0
    step = timedelta(days=1)
    cursor = start
    while cursor < end:
        piece_end = min(cursor + step, end)
        cube, tags = compute_range(tenant_id, cursor, piece_end, now=now)
        with transaction.atomic():
            _store_hours(tenant_id, cursor, piece_end, cube, tags)
            _store_days(tenant_id, cursor, piece_end)
        hours += int((piece_end - cursor).total_seconds() // 3600)
        cursor = piece_end
    return hours


# --- incremental ----------------------------------------------------------------------------


def _hours(start: datetime, end: datetime | None = None):
    end = min(end or start, start + MAX_DIRTY_SPAN)
    h = hour_floor(start)
    while h <= end:
        yield h
        h += timedelta(hours=1)


def dirty_mark(*, tenant_id: int, start: datetime, end: datetime | None = None) -> None:
    """Mark every hour from start to end (inclusive) as needing recomputation."""
    DirtyBucket.objects.bulk_create(
        [DirtyBucket(tenant_id=tenant_id, hour=h) for h in _hours(start, end)], ignore_conflicts=True
    )


def _advance(source: str, model, handle, *, batch: int = 5000, max_batches: int = 50) -> int:
    """Feed rows with id > cursor to `handle` (which returns (tenant, hour) marks), in batches.

    A cursor seen for the first time starts at the current last id: older rows belong to
    `rebuild_rollups`, which is how an existing database gets its history rolled up."""
    cur, created = RollupCursor.objects.get_or_create(source=source)
    if created:
        cur.last_id = model.objects.order_by("-id").values_list("id", flat=True).first() or 0
        RollupCursor.objects.filter(pk=cur.pk).update(last_id=cur.last_id)
        return 0
    seen = 0
    for _ in range(max_batches):
        rows = list(model.objects.filter(id__gt=cur.last_id).order_by("id")[:batch])
        if not rows:
            break
        marks = set(handle(rows))
        with transaction.atomic():
            DirtyBucket.objects.bulk_create(
                [DirtyBucket(tenant_id=t, hour=h) for t, h in marks], ignore_conflicts=True, batch_size=1000
            )
            cur.last_id = rows[-1].id
            RollupCursor.objects.filter(pk=cur.pk).update(last_id=cur.last_id)
        seen += len(rows)
    return seen


def _conversation_spans(rows, ts_attr="created_at"):
    """(tenant, start, end) per conversation: from the row to the conversation's last activity.

    A row can also change the past: an event that decides the branch of a conversation whose
    earlier events had none (a tenant-wide queue) moves those earlier facts to that branch, so the
    span starts at the earliest such event (within MAX_DIRTY_SPAN)."""
    spans = {}
    for r in rows:
        ts = getattr(r, ts_attr)
        key = r.conversation_id
        lo, hi, t = spans.get(key, (ts, ts, r.tenant_id))
        spans[key] = (min(lo, ts), max(hi, ts), t)
    if spans:
        floor = min(lo for lo, _hi, _t in spans.values()) - MAX_DIRTY_SPAN
        undecided = (
            ConversationEvent.objects.filter(
                conversation_id__in=list(spans), branch__isnull=True, created_at__gte=floor
            )
            .values("conversation_id")
            .annotate(first=Min("created_at"))
            .values_list("conversation_id", "first")
        )
        for cid, first in undecided:
            lo, hi, t = spans[cid]
            spans[cid] = (min(lo, first), hi, t)
    convs = Conversation.objects.filter(id__in=list(spans)).values_list("id", "closed_at", "last_message_at")
    for cid, closed_at, last_msg in convs:
        lo, hi, t = spans[cid]
        spans[cid] = (lo, max(x for x in (hi, closed_at, last_msg) if x is not None), t)
    return spans.values()


def _event_marks(rows):
    for lo, hi, t in _conversation_spans(rows):
        for h in _hours(lo, hi):
            yield t, h


def _message_marks(rows):
    # A staff message can be a first response (of an earlier acceptance) and any message lands on
    # the branch holding the conversation at its time: mark like an event.
    yield from _event_marks(rows)


def _rating_marks(rows):
    for r in rows:
        yield r.tenant_id, hour_floor(r.created_at)


def _breach_marks(rows):
    # A breach lands at its due instant; the row is written by the check job shortly after.
    for r in rows:
        yield r.tenant_id, hour_floor(r.due_at)


def _status_marks(rows, now=None):
    """From each status change to the agent's next one (or now): one query for the batch."""
    now = now or timezone.now()
    if not rows:
        return
    later = defaultdict(list)
    for agent_id, ts in (
        AgentStatusLog.objects.filter(
            agent_id__in={r.agent_id for r in rows}, created_at__gt=min(r.created_at for r in rows)
        )
        .order_by("agent_id", "created_at")
        .values_list("agent_id", "created_at")
    ):
        later[agent_id].append(ts)
    for log in rows:
        times = later[log.agent_id]
        k = bisect_right(times, log.created_at)
        for h in _hours(log.created_at, times[k] if k < len(times) else now):
            yield log.tenant_id, h


SOURCES = (
    ("event", ConversationEvent, _event_marks),
    ("message", Message, _message_marks),
    ("rating", Rating, _rating_marks),
    ("status", AgentStatusLog, _status_marks),
    ("sla_breach", SlaBreach, _breach_marks),
)
# Signed-in agents' time keeps growing: the current hour, and the previous one for a few minutes
# (the last refresh inside an hour ran a little before its end).
STATUS_TAIL = timedelta(minutes=10)


def rollup_mark_new_rows(*, now: datetime | None = None) -> int:
    """Turn raw rows added since the last run into dirty hours."""
    n = sum(_advance(source, model, handle) for source, model, handle in SOURCES)
    now = now or timezone.now()
    for tenant_id in (
        User.objects.filter(tenant__isnull=False)
        .exclude(status="offline")
        .values_list("tenant_id", flat=True)
        .distinct()
    ):
        dirty_mark(tenant_id=tenant_id, start=now - STATUS_TAIL, end=now)
    return n


# --- reading: stored rows plus the hours they do not hold yet ----------------------------------


def live_hours(*, tenant_id: int, start: datetime, end: datetime, now: datetime | None = None) -> list[datetime]:
    """Hours of [start, end) whose stored rows may lag the raw rows: hours marked dirty, hours that
    rows not yet seen by rollup_refresh touch, and the current hour(s). Reports compute these from
    the raw rows at read time, so a figure shows the moment its row is committed."""
    now = now or timezone.now()
    marks = set(
        DirtyBucket.objects.filter(tenant_id=tenant_id, hour__gte=hour_floor(start), hour__lt=end).values_list(
            "hour", flat=True
        )
    )
    cursors = dict(RollupCursor.objects.values_list("source", "last_id"))
    for source, model, handle in SOURCES:
        rows = list(
            model.objects.filter(tenant_id=tenant_id, id__gt=cursors.get(source, 0)).order_by("id")[:MAX_PENDING]
        )
        if rows:
            marks.update(h for t, h in handle(rows) if t == tenant_id)
    marks.update(_hours(now - STATUS_TAIL, now))
    lo = hour_floor(start)
    # Bounded: right after a migration marks history dirty, only the newest hours are computed at
    # read time; older ones show their stored rows until rollup_refresh has recomputed them.
    return sorted(h.astimezone(UTC) for h in marks if lo <= h < end)[-MAX_LIVE_HOURS:]


MAX_PENDING = 20000
MAX_LIVE_HOURS = 72
MAX_HOURS_PER_RUN = 24 * 7


def compute_hours(tenant_id: int, hours: list[datetime], *, now: datetime | None = None):
    """compute_range over a set of hours (contiguous runs computed together)."""
    cube: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    tags: dict[tuple, dict] = defaultdict(lambda: defaultdict(float))
    for run_start, run_end in _runs(sorted(hours)):
        c, t = compute_range(tenant_id, run_start, run_end, now=now)
        for key, cell in c.items():
            for m, v in cell.items():
                cube[key][m] += v
        for key, cell in t.items():
            for m, v in cell.items():
                tags[key][m] += v
    return cube, tags


def rollup_refresh(*, now: datetime | None = None) -> int:
    """Mark new rows, then recompute every dirty hour (contiguous hours in one pass)."""
    rollup_mark_new_rows(now=now)
    done = 0
    for tenant_id in DirtyBucket.objects.values_list("tenant_id", flat=True).distinct():
        if not cache.add(_lock(tenant_id), 1, timeout=600):
            continue  # another worker is on this tenant; its dirty marks stay for the next run
        try:
            # Newest hours first, a bounded amount per run (a migration that marks a year dirty is
            # worked off run by run, recent hours first); the rest stay marked for the next run.
            marks = list(
                DirtyBucket.objects.filter(tenant_id=tenant_id)
                .order_by("-hour")
                .values_list("id", "hour", "marked_at")[:MAX_HOURS_PER_RUN]
            )
            marks.reverse()
            for run_start, run_end in _runs([h for _id, h, _m in marks]):
                rollup_rebuild(tenant_id=tenant_id, start=run_start, end=run_end, now=now)
                done += 1
            # Only the marks we computed: one re-marked meanwhile (newer marked_at) stays dirty.
            for part in _chunks(marks, 300):
                q = Q()
                for mid, _h, marked_at in part:
                    q |= Q(id=mid, marked_at=marked_at)
                DirtyBucket.objects.filter(q).delete()
        finally:
            cache.delete(_lock(tenant_id))
    return done


def _runs(hours: list[datetime]):
    run_start = prev = None
    for h in hours:
        if run_start is None:
            run_start = prev = h
            continue
        if h - prev > timedelta(hours=1):
            yield run_start, prev + timedelta(hours=1)
            run_start = h
        prev = h
    if run_start is not None:
        yield run_start, prev + timedelta(hours=1)
