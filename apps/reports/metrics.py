"""Every report figure, defined once.

The rollup job (apps.reports.rollups), the screens and the exports all use these definitions;
tests check each on a hand-built history. Figures are derived from raw rows as *facts*: a
timestamped contribution (metric, value) attributed to a branch, an agent and a channel. A fact
lands in the hour bucket of its timestamp, so every figure is additive over hours, days,
agents, branches and channels.

Definitions (also shown on the report screen, see DEFINITIONS):

- offered: a request for a human agent. Each time a conversation enters the human queue
  (an event whose to_status is "queued" and whose from_status is not). Attributed to the event's
  branch; agent none.
- accepted: a conversation picked up by an agent from the queue or straight from the bot (an
  event to "active" from "queued", "bot" or nothing). Transfers between agents are not counted
  again. Attributed to the accepting agent.
- connect rate = accepted / offered (per agent: agent accepted / agent offered).
- agent offered: an offer to a named agent: every agent acceptance (including transfers taken)
  plus every declined or timed-out offer (AGENT_OFFER_MISSED_KINDS).
- agent accepted: every event that makes a named agent the active agent (pickups and transfers).
- abandoned: the conversation closed while still queued.
- first response time (FRT): for each agent acceptance, the time to that conversation's first
  visible agent message after it (and before the next acceptance or the close). Lands in the hour
  of that message.
- average handling time (AHT): at close, closed_at minus the conversation's first acceptance.
  Only conversations that were accepted; lands in the hour of the close, on the last agent.
- messages: visible messages (not whisper/internal notes, not system/bot) by visitors and staff.
  Staff messages are attributed to their sender; visitor messages to no agent.
- ratings and satisfaction distribution: one rating per conversation, score 1..5, in the hour of
  the rating, on the rated agent (or the last agent). Satisfaction = scores 4 and 5 / ratings.
- logged-in time: any status other than offline; online / busy / away time: in that status.
"""

from __future__ import annotations

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
    (_("First response time"), _("From an agent taking a conversation to that agent's first visible reply; averaged.")),
    (
        _("Average handling time"),
        _("From the first acceptance to the close, for conversations that were accepted; averaged."),
    ),
    (
        _("Messages"),
        _("Visible messages from visitors and staff (whispers, internal notes, bot and system messages excluded)."),
    ),
    (_("Satisfaction"), _("Ratings of 4 or 5 stars ÷ all ratings.")),
    (_("Logged-in time"), _("Time in any status other than offline. Online, busy and away time: time in that status.")),
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


def conversation_facts(*, conversation, events, staff_messages, rating=None) -> list[Fact]:
    """The facts of one conversation.

    conversation: has id, branch_id, channel_id. events: its ConversationEvents in order (need
    kind, from_status, to_status, agent_id, branch_id, created_at). staff_messages: (created_at,
    sender_user_id) of its visible staff messages in order. rating: its Rating or None.
    """
    cid = conversation.id
    channel = conversation.channel_id or 0
    conv_branch = conversation.branch_id or 0
    facts: list[Fact] = []
    acceptances: list[tuple[datetime, int, int]] = []  # (ts, agent, branch)
    first_accept_ts = None
    last_agent = 0
    close_ts = None
    for ev in events:
        branch = ev.branch_id or conv_branch
        agent = ev.agent_id or 0
        to, frm = ev.to_status or "", ev.from_status or ""
        if to == QUEUED and frm != QUEUED:
            facts.append(Fact(ev.created_at, "offered", 1, branch, 0, channel, cid))
        if to == ACTIVE and agent and (frm != ACTIVE or agent != last_agent):
            facts.append(Fact(ev.created_at, "agent_offered", 1, branch, agent, channel, cid))
            facts.append(Fact(ev.created_at, "agent_accepted", 1, branch, agent, channel, cid))
            if frm in PICKUP_FROM:
                facts.append(Fact(ev.created_at, "accepted", 1, branch, agent, channel, cid))
            acceptances.append((ev.created_at, agent, branch))
            if first_accept_ts is None:
                first_accept_ts = ev.created_at
            last_agent = agent
        elif ev.kind in AGENT_OFFER_MISSED_KINDS and agent:
            facts.append(Fact(ev.created_at, "agent_offered", 1, branch, agent, channel, cid))
        if to == CLOSED and frm != CLOSED:
            close_ts = ev.created_at
            if frm == QUEUED:
                facts.append(Fact(ev.created_at, "abandoned", 1, branch, 0, channel, cid))
            if first_accept_ts is not None:
                aht = (ev.created_at - first_accept_ts).total_seconds()
                facts.append(Fact(ev.created_at, "aht_sum", aht, branch, last_agent, channel, cid))
                facts.append(Fact(ev.created_at, "aht_count", 1, branch, last_agent, channel, cid))
    # First response per acceptance: the first staff message inside [accept, next accept or close).
    for i, (ts, agent, branch) in enumerate(acceptances):
        until = acceptances[i + 1][0] if i + 1 < len(acceptances) else None
        for msg_ts, _sender in staff_messages:
            if msg_ts < ts:
                continue
            if (until is not None and msg_ts >= until) or (close_ts is not None and msg_ts > close_ts):
                break
            frt = (msg_ts - ts).total_seconds()
            facts.append(Fact(msg_ts, "frt_sum", frt, branch, agent, channel, cid))
            facts.append(Fact(msg_ts, "frt_count", 1, branch, agent, channel, cid))
            break
    if rating is not None and 1 <= rating.score <= 5:
        agent = rating.agent_id or last_agent
        facts.append(Fact(rating.created_at, "ratings", 1, conv_branch, agent, channel, cid))
        facts.append(Fact(rating.created_at, f"score_{rating.score}", 1, conv_branch, agent, channel, cid))
    return facts


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
        "satisfaction": ratio(row.get("score_4", 0) + row.get("score_5", 0), ratings),
    }
