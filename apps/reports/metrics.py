"""Every figure of the product, defined once.

The report pages, the report API, the CSV and XLSX exports, the live monitor's "today" and the
agent's "my statistics" all read these definitions (through apps.reports.selectors); the
conversation history export uses `conversation_summary` for its per-conversation times. The
definitions are written out for people in docs/figures.md (Chinese and English) and at the bottom
of the report page (DEFINITIONS).

Figures are derived from raw rows as *facts*: a timestamped contribution (metric, value)
attributed to a branch, an agent and a channel. A fact lands in the hour bucket of its timestamp,
so every figure is additive over hours, days, agents, branches and channels.

Attribution: a fact belongs to the branch that held the conversation when it happened, read from
the conversation's event rows (each carries the branch holding the conversation after it, see
apps.conversations.services). An event with no branch (a tenant-wide channel that no routing rule
sent to a branch, before anyone took it) belongs to the branch that next held the conversation
(the branch of the agent who took it); a conversation no branch ever held counts for no branch
(super admins see it as "(none)").

- offered: each time a conversation enters the human queue (an event to "queued" from another
  status: new conversation, bot hand-off, re-queue). Agent: none.
- accepted: a conversation taken by an agent from the queue or straight from the bot (an event to
  "active" from "queued", "bot" or nothing). Transfers are not counted again. On the taking agent.
- connect rate = accepted / offered (per agent: agent accepted / agent offered).
- agent offered: an offer to a named agent: every event that makes an agent the active agent
  (pickups and accepted transfers) plus every declined or timed-out offer or transfer.
- agent accepted: every event that makes a named agent the active agent (pickups and transfers).
- abandoned: the conversation closed while still queued.
- queue wait: for each pickup from the queue, the time since the conversation entered the queue.
  Lands at the pickup, on the taking agent. Abandoned waits are not in it (they are "abandoned").
- first response time (FRT): for each time an agent becomes the active agent, the time to the
  first visible staff message after it (before the next agent or the close). Lands at that message.
- handling time (AHT): at each close of a served conversation, the close minus the first
  acceptance since it last entered the queue (a requeued conversation is handled again). Lands at
  the close, on the last agent.
- messages: visible messages (not whispers/internal notes, not system/bot) by visitors and staff.
  Staff messages are on their sender; visitor messages on no agent.
- ratings and satisfaction distribution: one rating per conversation, score 1..5, at the rating,
  on the rated agent (or the last agent). Satisfaction = scores 4 and 5 / ratings.
- logged-in time: any status other than offline; idle (online) / busy / away time: in that status.
  Lands on the agent's branch at that time (AgentStatusLog.branch_id_at_time).
- KPI targets compare a branch's whole subtree with the target set by the super admin.
- service levels (SLA, apps.sla): a conversation's clock holds its due instants (working time
  already in them). The first response is its first visible staff message at or after the clock
  started, the resolution its first close after that. A target is *met* when that happens by the
  due instant (the fact lands then: on the replying agent, or on the last agent at the close) and
  *breached* when the due instant passes first (the fact lands at the due instant, on the agent
  holding the conversation then, or on none while it is queued). A conversation closed before its
  first-response due without any reply (the customer left) has no first-response outcome; a
  resolution target paused while waiting for the customer has no due instant until it resumes
  (closed while paused = met). Attainment = met / (met + breached), per target; breaches = both
  targets' breaches. The breach job (apps.sla.services.sla_check) decides with `sla_outcomes`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

QUEUED = "queued"
ACTIVE = "active"
CLOSED = "closed"
PICKUP_FROM = {"queued", "bot", ""}
AGENT_OFFER_MISSED_KINDS = {
    "offer_declined",
    "offer_timeout",
    "offer_missed",
    "transfer_declined",
    "transfer_rejected",
    "transfer_timeout",
    "transfer_timed_out",
    "transfer_expired",
}
STAFF_SENDERS = {"agent", "supervisor", "salesperson"}
COUNTED_SENDERS = STAFF_SENDERS | {"visitor"}
LOGGED_OUT = "offline"
STATUS_SECONDS = {"online": "online_s", "busy": "busy_s", "away": "away_s"}

COUNTERS = (
    "offered",
    "agent_offered",
    "accepted",
    "agent_accepted",
    "abandoned",
    "wait_sum",
    "wait_count",
    "frt_sum",
    "frt_count",
    "aht_sum",
    "aht_count",
    "messages",
    "messages_visitor",
    "messages_agent",
    "ratings",
    "score_1",
    "score_2",
    "score_3",
    "score_4",
    "score_5",
    "logged_in_s",
    "online_s",
    "busy_s",
    "away_s",
    "sla_frt_met",
    "sla_frt_breached",
    "sla_res_met",
    "sla_res_breached",
)
TAG_COUNTERS = tuple(c for c in COUNTERS if not c.endswith("_s") and not c.startswith("messages"))

DEFINITIONS = [
    (_("Offered"), _("Requests for a human agent: each time a conversation enters the queue.")),
    (
        _("Accepted"),
        _("Conversations picked up by an agent from the queue or the bot (transfers are not counted again)."),
    ),
    (
        _("Connect rate"),
        _(
            "Accepted ÷ offered. For an agent: conversations the agent took ÷ offers made to the agent (including declined and timed-out offers)."
        ),
    ),
    (_("Abandoned"), _("Conversations closed while still waiting in the queue.")),
    (_("Queue wait"), _("From entering the queue to being picked up by an agent; averaged over pickups.")),
    (
        _("First response time"),
        _("From an agent taking a conversation to the first visible staff reply after it; averaged."),
    ),
    (
        _("Average handling time"),
        _("From the first acceptance to the close, for conversations that were accepted; averaged."),
    ),
    (
        _("Messages"),
        _("Visible messages from visitors and staff (whispers, internal notes, bot and system messages excluded)."),
    ),
    (_("Satisfaction"), _("Ratings of 4 or 5 stars ÷ all ratings.")),
    (
        _("Logged-in time"),
        _("Time in any status other than offline. Idle (online), busy and away time: time in that status."),
    ),
    (
        _("Branch"),
        _(
            "Each figure counts for the branch that held the conversation when it happened: the channel's branch, the branch routing chose, or for a tenant-wide channel the branch of the agent who took it; a transfer to another branch's agent moves it."
        ),
    ),
    (_("KPI"), _("A branch's figures over its whole subtree, against the target the super admin set.")),
    (
        _("Within SLA"),
        _(
            "Targets met ÷ targets decided, for first response and resolution separately, counted in working hours: met when the reply (or the close) came by the due time, breached when the due time passed first. A customer who left unanswered before the due time counts for neither; time waiting for the customer does not count towards resolution."
        ),
    ),
]


@dataclass(frozen=True)
class Fact:
    ts: datetime
    metric: str
    value: float
    branch_id: int
    agent_id: int
    channel_id: int
    conversation_id: int = 0


class BranchTimeline:
    """Which branch held a conversation at any instant, from its ordered event rows."""

    def __init__(self, events, default: int = 0):
        self.times = [ev.created_at for ev in events]
        resolved: list[int] = []
        nxt = 0
        # An event without a branch belongs to the branch that next held the conversation.
        for ev in reversed(events):
            if ev.branch_id:
                nxt = ev.branch_id
            resolved.append(ev.branch_id or nxt)
        resolved.reverse()
        self.branches = resolved
        self.default = (resolved[0] if resolved else 0) or default

    def of_event(self, i: int) -> int:
        return self.branches[i]

    def at(self, ts: datetime) -> int:
        i = bisect_right(self.times, ts) - 1
        return self.branches[i] if i >= 0 else self.default


class _Lifecycle:
    """The walk over one conversation's events: what each transition contributes."""

    def __init__(self, cid: int, channel: int, timeline: BranchTimeline):
        self.cid, self.channel, self.timeline = cid, channel, timeline
        self.facts: list[Fact] = []
        self.acceptances: list[tuple[datetime, int, int]] = []  # (ts, agent, branch)
        self.closes: list[datetime] = []
        self.last_agent = 0
        self.queued_since: datetime | None = None
        self.episode_accept: datetime | None = None
        self.holders: list[tuple[datetime, int]] = []  # (ts, agent holding it from then; 0 = none)

    def add(self, ts, metric, value, branch, agent=0):
        self.facts.append(Fact(ts, metric, value, branch, agent, self.channel, self.cid))

    def event(self, i: int, ev) -> None:
        branch = self.timeline.of_event(i)
        agent = ev.agent_id or 0
        to, frm, ts = ev.to_status or "", ev.from_status or "", ev.created_at
        if to == QUEUED and frm != QUEUED:
            self.add(ts, "offered", 1, branch)
            self.queued_since = ts
            self.episode_accept = None
        if ev.kind in AGENT_OFFER_MISSED_KINDS:
            # An offer not taken (the conversation, if active, stays with its agent).
            if agent:
                self.add(ts, "agent_offered", 1, branch, agent)
        elif to == ACTIVE and agent and (frm != ACTIVE or agent != self.last_agent):
            self._accept(ts, frm, branch, agent)
            self.holders.append((ts, agent))
        if to == CLOSED and frm != CLOSED:
            self._close(ts, frm, branch)
        if to in (QUEUED, CLOSED, "bot") and frm != to:
            self.holders.append((ts, 0))

    def holder_at(self, ts: datetime) -> int:
        i = bisect_right([t for t, _a in self.holders], ts) - 1
        return self.holders[i][1] if i >= 0 else 0

    def _accept(self, ts, frm, branch, agent) -> None:
        self.add(ts, "agent_offered", 1, branch, agent)
        self.add(ts, "agent_accepted", 1, branch, agent)
        if frm in PICKUP_FROM:
            self.add(ts, "accepted", 1, branch, agent)
            if self.queued_since is not None:
                self.add(ts, "wait_sum", max(0.0, (ts - self.queued_since).total_seconds()), branch, agent)
                self.add(ts, "wait_count", 1, branch, agent)
        self.queued_since = None
        self.acceptances.append((ts, agent, branch))
        if self.episode_accept is None:
            self.episode_accept = ts
        self.last_agent = agent

    def _close(self, ts, frm, branch) -> None:
        self.closes.append(ts)
        if frm == QUEUED:
            self.add(ts, "abandoned", 1, branch)
        if self.episode_accept is not None:
            self.add(ts, "aht_sum", max(0.0, (ts - self.episode_accept).total_seconds()), branch, self.last_agent)
            self.add(ts, "aht_count", 1, branch, self.last_agent)
        self.queued_since = None
        self.episode_accept = None

    def first_responses(self, staff_times: list[datetime]) -> None:
        """Per acceptance: the first staff message in [accept, next acceptance) and not after a close."""
        for i, (ts, agent, branch) in enumerate(self.acceptances):
            until = self.acceptances[i + 1][0] if i + 1 < len(self.acceptances) else None
            close = next((c for c in self.closes if c >= ts), None)
            k = _first_at_or_after(staff_times, ts)
            if k is None:
                continue
            msg_ts = staff_times[k]
            if (until is not None and msg_ts >= until) or (close is not None and msg_ts > close):
                continue
            self.add(msg_ts, "frt_sum", (msg_ts - ts).total_seconds(), branch, agent)
            self.add(msg_ts, "frt_count", 1, branch, agent)


def _first_at_or_after(times: list[datetime], ts: datetime) -> int | None:
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < ts:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(times) else None


FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"


@dataclass(frozen=True)
class SlaOutcome:
    target: str  # FIRST_RESPONSE or RESOLUTION
    at: datetime  # when it was decided: the reply, the close, or the due instant
    met: bool
    due: datetime | None


def sla_outcomes(*, clock, first_response_at, resolved_at, now) -> list[SlaOutcome]:
    """The decided targets of one SLA clock (see the module docstring), at `now`.

    clock: has first_response_due, resolution_due and resolution_paused_at.
    first_response_at: the first visible staff message at or after the clock started (or None);
    resolved_at: the first close after it started (or None). A target not decided yet (due in the
    future, or the resolution paused) has no outcome."""
    out: list[SlaOutcome] = []
    due = clock.first_response_due
    if due is not None:
        if first_response_at is not None and first_response_at <= due:
            out.append(SlaOutcome(FIRST_RESPONSE, first_response_at, True, due))
        elif due <= now:
            left_unanswered = (
                resolved_at is not None
                and resolved_at < due
                and (first_response_at is None or first_response_at > resolved_at)
            )
            if not left_unanswered:
                out.append(SlaOutcome(FIRST_RESPONSE, due, False, due))
    due = clock.resolution_due
    # While paused (waiting for the customer) the due instant is the one before the pause, which
    # was still ahead then; a close during the pause is in time.
    paused_at = clock.resolution_paused_at
    if due is not None:
        if resolved_at is not None and (resolved_at <= due or (paused_at is not None and resolved_at >= paused_at)):
            out.append(SlaOutcome(RESOLUTION, resolved_at, True, due))
        elif paused_at is None and due <= now:
            out.append(SlaOutcome(RESOLUTION, due, False, due))
    return out


SLA_COUNTER = {
    (FIRST_RESPONSE, True): "sla_frt_met",
    (FIRST_RESPONSE, False): "sla_frt_breached",
    (RESOLUTION, True): "sla_res_met",
    (RESOLUTION, False): "sla_res_breached",
}


def _sla_facts(walk: _Lifecycle, clock, staff: list[tuple[datetime, int]], now: datetime) -> None:
    started = clock.started_at
    reply = next(((ts, user) for ts, user in staff if ts >= started), None)
    closed = next((ts for ts in walk.closes if ts >= started), None)
    for o in sla_outcomes(clock=clock, first_response_at=reply[0] if reply else None, resolved_at=closed, now=now):
        if o.met and o.target == FIRST_RESPONSE:
            agent = reply[1] or walk.holder_at(o.at)
        elif o.met:
            # On the agent who held it until the close (the close itself leaves it with no one).
            agent = walk.holder_at(o.at - timedelta(microseconds=1))
        else:
            agent = walk.holder_at(o.at)
        walk.add(o.at, SLA_COUNTER[(o.target, o.met)], 1, walk.timeline.at(o.at), agent)


def conversation_facts(*, conversation, events, messages, rating=None, sla=None, now=None) -> list[Fact]:
    """The facts of one conversation.

    conversation: has id, branch_id, channel_id. events: its ConversationEvents ordered by
    (created_at, id) (need kind, from_status, to_status, agent_id, branch_id, created_at).
    messages: (created_at, sender_kind, sender_user_id) of its visible messages in order, any
    sender (only COUNTED_SENDERS count). rating: its Rating or None. sla: its SlaClock or None,
    with `now` deciding which due instants have passed.
    """
    timeline = BranchTimeline(events, default=conversation.branch_id or 0)
    walk = _Lifecycle(conversation.id, conversation.channel_id or 0, timeline)
    for i, ev in enumerate(events):
        walk.event(i, ev)
    walk.first_responses([ts for ts, kind, _u in messages if kind in STAFF_SENDERS])
    if sla is not None and now is not None:
        _sla_facts(walk, sla, [(ts, u or 0) for ts, kind, u in messages if kind in STAFF_SENDERS], now)
    for ts, kind, user in messages:
        if kind not in COUNTED_SENDERS:
            continue
        staff = kind in STAFF_SENDERS
        branch, agent = timeline.at(ts), (user or 0) if staff else 0
        walk.add(ts, "messages", 1, branch, agent)
        walk.add(ts, "messages_agent" if staff else "messages_visitor", 1, branch, agent)
    if rating is not None and 1 <= rating.score <= 5:
        branch, agent = timeline.at(rating.created_at), rating.agent_id or walk.last_agent
        walk.add(rating.created_at, "ratings", 1, branch, agent)
        walk.add(rating.created_at, f"score_{rating.score}", 1, branch, agent)
    return walk.facts


def conversation_summary(*, conversation, events, messages) -> dict:
    """One conversation's own times, by the same definitions (the history export's columns):
    queue wait before its first pickup, first response after its first acceptance, handling time of
    its last close. None when the conversation never reached that point."""
    facts = conversation_facts(conversation=conversation, events=events, messages=messages)

    def first(metric):
        return next((f.value for f in facts if f.metric == metric), None)

    def last(metric):
        return next((f.value for f in reversed(facts) if f.metric == metric), None)

    return {
        "wait_s": first("wait_sum"),
        "first_response_s": first("frt_sum"),
        "handling_s": last("aht_sum"),
        "branch_id": BranchTimeline(events, default=conversation.branch_id or 0).at(events[-1].created_at)
        if events
        else conversation.branch_id,
    }


def status_facts(*, logs, start: datetime, end: datetime, now: datetime) -> list[Fact]:
    """Status durations of one agent inside [start, end), split at hour boundaries.

    logs: the agent's AgentStatusLog rows in order, starting with the last one before `start`
    (if any). The current status runs until `now`.
    """
    facts: list[Fact] = []
    stop = min(end, now)
    for i, log in enumerate(logs):
        seg_start = max(log.created_at, start)
        seg_end = min(logs[i + 1].created_at if i + 1 < len(logs) else stop, stop)
        if seg_end <= seg_start or log.status == LOGGED_OUT:
            continue
        metrics = ["logged_in_s"]
        if log.status in STATUS_SECONDS:
            metrics.append(STATUS_SECONDS[log.status])
        cursor = seg_start
        while cursor < seg_end:
            hour_end = hour_floor(cursor) + timedelta(hours=1)
            piece_end = min(hour_end, seg_end)
            seconds = (piece_end - cursor).total_seconds()
            for m in metrics:
                facts.append(Fact(cursor, m, seconds, log.branch_id_at_time, log.agent_id, 0))
            cursor = piece_end
    return facts


def hour_floor(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def derived(row: dict) -> dict:
    """Ratios and averages from summed counters (None when undefined)."""

    def ratio(a, b):
        return round(a * 100.0 / b, 1) if b else None

    def avg(a, b):
        return round(a / b, 1) if b else None

    ratings = row.get("ratings", 0)
    return {
        "connect_rate": ratio(row.get("accepted", 0), row.get("offered", 0)),
        "agent_connect_rate": ratio(row.get("agent_accepted", 0), row.get("agent_offered", 0)),
        "frt_avg": avg(row.get("frt_sum", 0), row.get("frt_count", 0)),
        "aht_avg": avg(row.get("aht_sum", 0), row.get("aht_count", 0)),
        "wait_avg": avg(row.get("wait_sum", 0), row.get("wait_count", 0)),
        "satisfaction": ratio(row.get("score_4", 0) + row.get("score_5", 0), ratings),
        "score_avg": round(sum(row.get(f"score_{s}", 0) * s for s in range(1, 6)) / ratings, 2) if ratings else None,
        "sla_frt_rate": ratio(row.get("sla_frt_met", 0), row.get("sla_frt_met", 0) + row.get("sla_frt_breached", 0)),
        "sla_res_rate": ratio(row.get("sla_res_met", 0), row.get("sla_res_met", 0) + row.get("sla_res_breached", 0)),
        "sla_breaches": row.get("sla_frt_breached", 0) + row.get("sla_res_breached", 0),
    }


def pct(value) -> str:
    """A rate for people: "12.5%" ("-" when undefined)."""
    return "-" if value is None or value == "" else f"{float(value):.1f}%"


def count(value) -> str:
    return str(round(float(value or 0)))


def hms(seconds) -> str:
    """A duration for people: rounded to the second, h:mm:ss ("-" when undefined). Never negative."""
    if seconds is None or seconds == "":
        return "-"
    total = max(0, round(float(seconds)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


# --- columns: what each report table shows, the same on the page, in exports and in the API ----

COUNT, PERCENT, DURATION = "count", "percent", "duration"


def report_columns(dimension: str) -> list[tuple[str, object, str]]:
    """(figure key, label, kind) of the report table for a dimension."""
    if dimension == "agent":
        cols = [
            ("agent_offered", _("Offers to agent"), COUNT),
            ("agent_accepted", _("Taken"), COUNT),
            ("agent_connect_rate", _("Connect rate"), PERCENT),
        ]
    else:
        cols = [
            ("offered", _("Offered"), COUNT),
            ("accepted", _("Accepted"), COUNT),
            ("connect_rate", _("Connect rate"), PERCENT),
            ("abandoned", _("Abandoned"), COUNT),
        ]
    cols += [
        ("wait_avg", _("Queue wait"), DURATION),
        ("frt_avg", _("First response"), DURATION),
        ("aht_avg", _("Handling time"), DURATION),
    ]
    if dimension != "tag":
        cols.append(("messages", _("Messages"), COUNT))
    cols += [("ratings", _("Ratings"), COUNT), ("satisfaction", _("Satisfaction"), PERCENT)]
    cols += [
        ("sla_frt_rate", _("First response within SLA"), PERCENT),
        ("sla_res_rate", _("Resolved within SLA"), PERCENT),
        ("sla_breaches", _("SLA breaches"), COUNT),
    ]
    if dimension in ("agent", "branch"):
        cols += [
            ("logged_in_s", _("Logged-in time"), DURATION),
            ("online_s", _("Idle (online) time"), DURATION),
            ("busy_s", _("Busy time"), DURATION),
            ("away_s", _("Away time"), DURATION),
        ]
    return cols


def display(value, kind: str) -> str:
    """A figure as people read it, the same on every screen and in every export."""
    if kind == PERCENT:
        return pct(value)
    if kind == DURATION:
        return hms(value)
    return count(value)
