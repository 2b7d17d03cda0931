"""Reads for dispatch: settings, eligibility, queue position, working hours."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from apps.accounts.models import AgentStatus, Branch, Role, SkillGroup, User
from apps.conversations.models import Conversation, ConversationEvent, ConversationStatus
from apps.conversations.services import ACTIVE_LOAD_STATUSES
from apps.routing.models import DispatchSettings, Holiday, Strategy, WorkingHours
from apps.tenants.time import tenant_tz

IDLE_FIRST = "idle_first"


_settings_memo: dict[int, tuple[float, DispatchSettings]] = {}
SETTINGS_MEMO_SECONDS = 2.0


def dispatch_settings_get(*, tenant_id: int, fresh: bool = False) -> DispatchSettings:
    """The tenant's dispatch settings. Read on every arrival, so remembered in this process
    for two seconds (changes through the service or the back office clear it at once here;
    other processes see them within two seconds)."""
    now = time.monotonic()
    hit = _settings_memo.get(tenant_id)
    if hit is not None and not fresh and now - hit[0] < SETTINGS_MEMO_SECONDS:
        return hit[1]
    obj = DispatchSettings.objects.filter(tenant_id=tenant_id).first()
    if obj is None:
        obj, _created = DispatchSettings.objects.get_or_create(tenant_id=tenant_id)
    _settings_memo[tenant_id] = (now, obj)
    return obj


def queue_length(*, tenant_id: int) -> int:
    return Conversation.objects.filter(tenant_id=tenant_id, status=ConversationStatus.QUEUED).count()


def id_list(value: str) -> list[int]:
    return [int(x) for x in value.strip(",").split(",") if x]


def agents_online(
    *,
    tenant_id: int,
    reach_path: str = "",
    skill_group_id: int | None = None,
    agent_ids: list[int] | None = None,
    excluded_ids: list[int] | None = None,
) -> QuerySet:
    """Agents who may take a conversation routed this way right now (online, active, in reach).
    Agents of a disabled branch cannot be online (accounts sets them offline)."""
    qs = User.objects.filter(
        tenant_id=tenant_id, is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR], status=AgentStatus.ONLINE
    )
    if reach_path:
        qs = qs.filter(branch__path__startswith=reach_path)
    if skill_group_id:
        qs = qs.filter(skill_groups__id=skill_group_id)
    if agent_ids:
        qs = qs.filter(pk__in=agent_ids)
    if excluded_ids:
        qs = qs.exclude(pk__in=excluded_ids)
    return qs


def candidate_agents(*, conversation: Conversation, strategy: str, limit: int = 5) -> list[int]:
    """Agents with free capacity for this conversation, best first for the strategy."""
    qs = agents_online(
        tenant_id=conversation.tenant_id,
        reach_path=conversation.reach_path,
        skill_group_id=conversation.skill_group_id,
        agent_ids=id_list(conversation.route_agents),
        excluded_ids=id_list(conversation.excluded_agents),
    )
    qs = qs.annotate(
        load=Count(
            "assigned_conversations",
            filter=Q(
                assigned_conversations__status__in=ACTIVE_LOAD_STATUSES,
                assigned_conversations__load_released=False,
            ),
        ),
        last_assigned=F("presence__last_assigned_at"),
    ).filter(load__lt=F("max_chats"))
    rr = F("last_assigned").asc(nulls_first=True)
    if strategy == Strategy.ROUND_ROBIN:
        order = [rr, "pk"]
    elif strategy == IDLE_FIRST:
        busy = Case(When(load=0, then=Value(0)), default=Value(1), output_field=IntegerField())
        order = [busy, rr, "load", "pk"]
    else:
        order = ["load", rr, "pk"]
    return list(qs.order_by(*order).values_list("pk", flat=True)[:limit])


def queue_for_agent_q(agent: User) -> Q:
    """The queued conversations this agent may take (reach, skill group, named agents)."""
    paths = [""]
    if agent.branch is not None:
        branch_path = agent.branch.path
        steplen = Branch.steplen
        paths += [branch_path[:i] for i in range(steplen, len(branch_path) + 1, steplen)]
    groups = SkillGroup.members.through.objects.filter(user_id=agent.pk).values("skillgroup_id")
    cond = Q(tenant_id=agent.tenant_id, status=ConversationStatus.QUEUED, reach_path__in=paths)
    cond &= Q(skill_group__isnull=True) | Q(skill_group_id__in=Subquery(groups))
    cond &= Q(route_agents="") | Q(route_agents__contains=f",{agent.pk},")
    cond &= ~Q(excluded_agents__contains=f",{agent.pk},")
    return cond


def queue_audience_q(conversation: Conversation) -> Q:
    """The inverse of queue_for_agent_q, on User: who may take this queued conversation."""
    if conversation.status != ConversationStatus.QUEUED:
        return Q(pk__in=[])
    cond = Q(tenant_id=conversation.tenant_id)
    if conversation.reach_path:
        cond &= Q(branch__path__startswith=conversation.reach_path)
    if conversation.skill_group_id:
        members = SkillGroup.members.through.objects.filter(skillgroup_id=conversation.skill_group_id)
        cond &= Q(pk__in=Subquery(members.values("user_id")))
    if conversation.route_agents:
        cond &= Q(pk__in=id_list(conversation.route_agents))
    if conversation.excluded_agents:
        cond &= ~Q(pk__in=id_list(conversation.excluded_agents))
    return cond


QUEUE_ORDER = ("-priority", "queued_at", "id")


PACE_WINDOW = dt.timedelta(minutes=30)
PACE_MIN_ASSIGNMENTS = 2  # fewer than this in the window: no rate to speak of, no estimate


@dataclass(frozen=True)
class QueueWait:
    """What a waiting visitor may be told: whether anybody can serve now, and the measured pace
    of the queue (seconds between assignments over the last half hour), if there is one."""

    agents_online: bool
    seconds_per_assignment: float | None

    def seconds_for(self, position: int) -> int | None:
        """Estimated wait for this place in the queue; None when it would be a guess."""
        if not self.agents_online or self.seconds_per_assignment is None:
            return None
        return int(round(position * self.seconds_per_assignment))


def queue_wait(*, tenant_id: int) -> QueueWait:
    """Measured from the tenant's assignments in the last 30 minutes (the pace cached for 10 s): with none
    (or one) there is no estimate, and with nobody online the visitor is offered to leave a
    message instead of being promised a wait."""
    key = f"routing:pace2:{tenant_id}"
    cached = cache.get(key)
    if cached is None:
        now = timezone.now()
        times = list(
            ConversationEvent.objects.filter(
                tenant_id=tenant_id, kind__in=("assigned", "transfer_accepted"), created_at__gte=now - PACE_WINDOW
            )
            .order_by("created_at")
            .values_list("created_at", flat=True)
        )
        pace = None
        if len(times) >= PACE_MIN_ASSIGNMENTS:
            # The queue moves one place per assignment: the mean gap between them, counted up to now.
            pace = max(1.0, (now - times[0]).total_seconds() / len(times))
        cached = {"pace": pace}
        cache.set(key, cached, 10)
    # Whether anybody can serve (online, or busy and taking from the queue by hand) is not cached:
    # an agent coming or going changes it at once.
    serving = User.objects.filter(
        tenant_id=tenant_id,
        is_active=True,
        role__in=[Role.AGENT, Role.SUPERVISOR],
        status__in=[AgentStatus.ONLINE, AgentStatus.BUSY],
    ).exists()
    return QueueWait(agents_online=serving, seconds_per_assignment=cached["pace"])


def queue_read_instant() -> int:
    """When a read of the queue began (ms since the epoch), sent with every place. Places are
    computed and delivered on different paths (the refresh job, a single conversation's
    routing, the REST answer), so they can arrive out of order: clients keep the place read
    last and drop an older one."""
    return int(time.time() * 1000)


def queue_position(*, conversation: Conversation) -> int:
    """1-based place in the tenant's queue: higher priority first, then first come."""
    ahead = (
        Conversation.objects.filter(tenant_id=conversation.tenant_id, status=ConversationStatus.QUEUED)
        .filter(
            Q(priority__gt=conversation.priority)
            | Q(priority=conversation.priority, queued_at__lt=conversation.queued_at)
            | Q(priority=conversation.priority, queued_at=conversation.queued_at, pk__lt=conversation.pk)
        )
        .count()
    )
    return ahead + 1


def _branch_chain_paths(branch: Branch | None) -> list[str]:
    """The branch's path and its ancestors' paths, nearest first."""
    if branch is None:
        return []
    return list(reversed(branch.ancestor_paths))


_calendar_memo: dict[int, tuple[float, list, list]] = {}
CALENDAR_MEMO_SECONDS = 10.0


def _calendar(tenant_id: int) -> tuple[list, list]:
    """The tenant's working hours and holidays, remembered in this process for ten seconds: read
    on every arrival, changed a few times a year. All holidays are loaded (a tenant has a few a
    year), so a question about any instant, past or future, sees the same calendar."""
    now = time.monotonic()
    hit = _calendar_memo.get(tenant_id)
    if hit is not None and now - hit[0] < CALENDAR_MEMO_SECONDS:
        return hit[1], hit[2]
    hours = list(
        WorkingHours.objects.filter(tenant_id=tenant_id).values_list("branch__path", "weekday", "start", "end")
    )
    holidays = list(Holiday.objects.filter(tenant_id=tenant_id).values_list("branch__path", "date"))
    _calendar_memo[tenant_id] = (now, hours, holidays)
    return hours, holidays


def dispatch_settings_forget(tenant_id: int | None = None) -> None:
    """Drop remembered settings and calendars (after a change, and between tests)."""
    if tenant_id is None:
        _settings_memo.clear()
        _calendar_memo.clear()
    else:
        _settings_memo.pop(tenant_id, None)
        _calendar_memo.pop(tenant_id, None)


def _day_windows(tenant_id: int, chain: list[str], day: dt.date) -> list[tuple[dt.time, dt.time | None]] | None:
    """The working windows of one local day as (start, end) times, end None = midnight; None when
    no level has working hours at all (always open). The nearest level (the branch, an ancestor,
    or the company) that has working hours decides; a holiday of any of them closes the day. An
    overnight shift (start > end) opens both ends of its weekday."""
    hours, holidays = _calendar(tenant_id)
    if any(d == day and (path is None or path in chain) for path, d in holidays):
        return []
    rows = [r for r in hours if r[0] is None or r[0] in chain]
    if not rows:
        return None
    for level in [*chain, None]:
        level_rows = [r for r in rows if r[0] == level]
        if level_rows:
            windows: list[tuple[dt.time, dt.time | None]] = []
            for _path, weekday, start, end in level_rows:
                if weekday != day.weekday():
                    continue
                if start <= end:
                    windows.append((start, end))
                else:
                    windows += [(dt.time(0), end), (start, None)]
            return sorted(windows)
    return None


def is_working_time(*, tenant, branch: Branch | None = None, at: dt.datetime | None = None) -> bool:
    """F45: is `at` inside the working hours that apply to this branch (see _day_windows)?"""
    at = at or timezone.now()
    local = at.astimezone(tenant_tz(tenant))
    windows = _day_windows(tenant.pk, _branch_chain_paths(branch), local.date())
    if windows is None:
        return True
    now_t = local.time()
    return any(start <= now_t and (end is None or now_t < end) for start, end in windows)


MAX_CALENDAR_DAYS = 400


def _working_spans(*, tenant, branch: Branch | None, start: dt.datetime):
    """Working periods from `start` on, as aware (from, to) pairs in order, for at most
    MAX_CALENDAR_DAYS days. Always-open calendars yield one endless span."""
    tz = tenant_tz(tenant)
    chain = _branch_chain_paths(branch)
    local = start.astimezone(tz)
    day = local.date()
    for _ in range(MAX_CALENDAR_DAYS):
        windows = _day_windows(tenant.pk, chain, day)
        if windows is None:
            yield start, None
            return
        for w_start, w_end in windows:
            a = dt.datetime.combine(day, w_start, tzinfo=tz)
            b = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
                if w_end is None
                else (dt.datetime.combine(day, w_end, tzinfo=tz))
            )
            a = max(a, start)
            if b > a:
                yield a, b
        day += dt.timedelta(days=1)


def working_deadline(*, tenant, branch: Branch | None, start: dt.datetime, seconds: float) -> dt.datetime | None:
    """The instant when `seconds` of working time have passed since `start` (service levels count
    only working hours, holidays excluded); None if the calendar has no working time ahead."""
    left = dt.timedelta(seconds=seconds)
    for a, b in _working_spans(tenant=tenant, branch=branch, start=start):
        if b is None or b - a >= left:
            return a + left
        left -= b - a
    return None


def working_seconds_between(*, tenant, branch: Branch | None, start: dt.datetime, end: dt.datetime) -> float:
    """Working time between two instants, in seconds (0 when end <= start)."""
    total = 0.0
    if end <= start:
        return total
    for a, b in _working_spans(tenant=tenant, branch=branch, start=start):
        if a >= end:
            break
        total += ((end if b is None else min(b, end)) - a).total_seconds()
        if b is None or b >= end:
            break
    return total
