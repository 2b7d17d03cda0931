"""Dispatch: routing rules, overflow up the org tree, the unified queue, capacity-driven
assignment, the rate-limit switch, presence and the timeout sweeps.

Split the Chatwoot way: *triggers* (a conversation queued, an agent gained capacity) call
`dispatch_conversation` / `dispatch_for_agent`; *eligibility* is `selectors.agents_online` /
`selectors.queue_for_agent_q`; *rotation* is the strategy ordering in `selectors.candidate_agents`.
The database is the only coordinator: every assignment happens under the agent's row lock
(apps.conversations.services.conversation_assign), so any number of processes may dispatch.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial

from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus, Branch, User
from apps.conversations import services as conv_services
from apps.conversations.locking import retry_on_deadlock
from apps.conversations.models import Conversation, ConversationStatus, Transfer, TransferStatus
from apps.core.errors import ApplicationError
from apps.core.services import audit_record
from apps.messaging import groups
from apps.messaging import presence as im_presence
from apps.messaging.publish import publish
from apps.routing import selectors
from apps.routing.models import (
    AgentPresence,
    DispatchSettings,
    Holiday,
    LeaveMessage,
    RoutingRule,
    Strategy,
    WorkingHours,
)

logger = logging.getLogger(__name__)


# --- gate: rate-limit switch, working hours, queue cap ---------------------------------------


def _refuse(code: str, message, custom: str = "") -> ApplicationError:
    return ApplicationError(code, custom or message, status=503, extra={"leave_message": True})


def intake_check(*, channel, customer, status: str) -> None:
    """Refuse a new conversation (or a bot hand-off) with a friendly notice when the tenant is
    limited (F58), out of hours (F45), or the queue is full (F57). Open ones are untouched."""
    settings_ = selectors.dispatch_settings_get(tenant_id=channel.tenant_id)
    if settings_.intake_paused or (settings_.auto_limit_enabled and settings_.auto_paused):
        raise _refuse(
            "intake_paused",
            _(
                "We are receiving too many enquiries right now. Please try again in a few "
                "minutes or leave us a message."
            ),
            settings_.paused_message,
        )
    if channel.branch_id and not channel.branch.is_effectively_enabled():
        raise _refuse(
            "branch_disabled", _("This service point is not taking conversations. Please leave us a message.")
        )
    if status == ConversationStatus.BOT:
        return  # the bot serves at any hour; the gate applies again when it hands off
    if not selectors.is_working_time(tenant=channel.tenant, branch=channel.branch):
        raise _refuse(
            "off_hours",
            _("We are outside service hours. Please leave a message and we will get back to you."),
            settings_.off_hours_message,
        )
    if selectors.queue_length(tenant_id=channel.tenant_id) >= settings_.queue_cap:
        raise _refuse(
            "queue_full",
            _("All our agents are busy and the queue is full. Please leave a message and we will contact you."),
            settings_.queue_full_message,
        )


# --- routing: which agents may take a conversation ------------------------------------------


def _rule_matches(rule: RoutingRule, conversation: Conversation, text: str) -> bool:
    keywords = rule.keyword_list()
    if keywords:
        haystack = f"{conversation.subject} {text}".lower()
        if not any(k in haystack for k in keywords):
            return False
    conditions = rule.attribute_conditions or {}
    if conditions:
        customer = conversation.customer
        attrs = {**(customer.attributes or {}), "vip": customer.is_vip}
        for key, expected in conditions.items():
            value = attrs.get(key)
            if isinstance(expected, list):
                if value not in expected:
                    return False
            elif value != expected and str(value) != str(expected):
                return False
    return True


def _match_rule(conversation: Conversation, text: str) -> RoutingRule | None:
    rules = (
        RoutingRule.objects.filter(tenant_id=conversation.tenant_id, is_enabled=True)
        .filter(Q(channel__isnull=True) | Q(channel_id=conversation.channel_id))
        .select_related("target_branch", "target_skill_group")
    )
    for rule in rules:
        if _rule_matches(rule, conversation, text):
            return rule
    return None


def _levels(branch: Branch | None, depth: int) -> list[Branch | None]:
    """The branch and up to `depth` ancestors, nearest first (None = the whole tenant)."""
    if branch is None:
        return [None]
    ancestors = list(Branch.objects.filter(path__in=branch.ancestor_paths[:-1]).order_by("-depth"))
    return [branch, *ancestors[:depth]]


@dataclass(frozen=True)
class _Target:
    """Where a conversation is meant to go, before anyone's presence is looked at."""

    rule: RoutingRule | None
    base: Branch | None  # the target branch: the rule's, its skill group's, else the channel's
    skill_group_id: int | None
    named: list[int]  # agents the rule names
    overflow: bool
    sticky: bool


@dataclass(frozen=True)
class _Reach:
    """Who may take it: named agents, or anyone under reach_path (in the skill group, if any)."""

    route_agents: list[int]
    reach_path: str
    skill_group_id: int | None
    overflowed_to: Branch | None = None


def _target(conversation: Conversation, settings_: DispatchSettings, text: str) -> _Target:
    # Staff transferred it to a skill group's queue: that group takes it, whatever the rules say.
    chosen_group = (conversation.flags or {}).get("queue_skill_group_id")
    rule = None if chosen_group else _match_rule(conversation, text)
    channel_branch_id = conversation.channel.branch_id
    channel_branch = Branch.objects.filter(pk=channel_branch_id).first() if channel_branch_id else None
    base = (rule.target_branch if rule and rule.target_branch_id else None) or channel_branch
    skill_group_id = rule.target_skill_group_id if rule else chosen_group
    if rule and rule.target_skill_group and rule.target_skill_group.branch_id and not rule.target_branch_id:
        base = Branch.objects.filter(pk=rule.target_skill_group.branch_id).first() or base
    return _Target(
        rule=rule,
        base=base,
        skill_group_id=skill_group_id,
        named=list(rule.target_agents.values_list("pk", flat=True)) if rule else [],
        overflow=rule.overflow if rule else not chosen_group,
        sticky=settings_.sticky_enabled and (rule.sticky if rule else not chosen_group),
    )


def _reach(conversation: Conversation, target: _Target, excluded: list[int], overflow_depth: int) -> _Reach:
    """Named agents if one is online, else the skill group if a member is, else (unless the rule
    forbids overflow) the target branch, or the nearest ancestor with somebody online."""
    online = partial(selectors.agents_online, tenant_id=conversation.tenant_id, excluded_ids=excluded)
    base_path = target.base.path if target.base else ""
    if target.named and online(agent_ids=target.named).exists():
        return _Reach(target.named, "", target.skill_group_id)
    if target.skill_group_id and online(skill_group_id=target.skill_group_id).exists():
        return _Reach([], "", target.skill_group_id)  # a skill group is its own target, wherever its members sit
    if (target.named or target.skill_group_id) and not target.overflow:
        return _Reach(target.named, "" if target.named else base_path, target.skill_group_id)
    skill_group_id = None if target.overflow else target.skill_group_id
    if online(reach_path=base_path).exists():
        return _Reach([], base_path, skill_group_id)
    # Nobody online in the target: overflow up the tree, level by level.
    reach_path = base_path
    for level in _levels(target.base, overflow_depth if target.overflow else 0)[1:]:
        reach_path = level.path if level is not None else ""
        if online(reach_path=reach_path).exists():
            return _Reach([], reach_path, skill_group_id, overflowed_to=level)
    return _Reach([], reach_path, skill_group_id)


def _last_agent_of(conversation: Conversation) -> int | None:
    """The agent who last served this customer (sticky routing)."""
    return (
        Conversation.objects.filter(
            tenant_id=conversation.tenant_id, customer_id=conversation.customer_id, assignee__isnull=False
        )
        .exclude(pk=conversation.pk)
        .order_by("-id")
        .values_list("assignee_id", flat=True)
        .first()
    )


def route_conversation(*, conversation: Conversation, text: str = "") -> Conversation:
    """Decide who may take a queued conversation (rule -> target -> overflow) and store it on
    the row: reach_path, skill group, named agents, priority, strategy. Cheap: a handful of
    indexed queries, run inside the creating transaction."""
    settings_ = selectors.dispatch_settings_get(tenant_id=conversation.tenant_id)
    target = _target(conversation, settings_, text)
    rule, base = target.rule, target.base
    excluded = selectors.id_list(conversation.excluded_agents)
    reach = _reach(conversation, target, excluded, settings_.overflow_depth)
    overflowed_to = reach.overflowed_to
    sticky_agent = _last_agent_of(conversation) if target.sticky else None
    priority = max(conversation.priority, rule.priority if rule else 0) + (1 if conversation.customer.is_vip else 0)
    flags = {
        **conversation.flags,
        "strategy": rule.strategy if rule else Strategy.LEAST_BUSY,
        "rule_id": rule.pk if rule else None,
        "sticky_agent_id": sticky_agent if sticky_agent not in excluded else None,
    }
    # Attribution (see apps.conversations.services): the branch routing chose holds the queued
    # conversation; with no choice (tenant-wide channel, no rule) it stays where it was and the
    # next agent to take it decides.
    routed_branch = overflowed_to or base
    if routed_branch is not None:
        flags.pop(conv_services.BRANCH_FROM_AGENT, None)
    fields = {
        "branch_id": routed_branch.pk if routed_branch is not None else conversation.branch_id,
        "skill_group_id": reach.skill_group_id,
        "reach_path": reach.reach_path,
        "route_agents": "," + ",".join(map(str, reach.route_agents)) + "," if reach.route_agents else "",
        "priority": priority,
        "flags": flags,
    }
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for key, value in fields.items():
        setattr(conversation, key, value)
    if overflowed_to is not None:
        conv_services.conversation_event_record(
            conversation=conversation,
            kind="overflowed",
            from_status=conversation.status,
            to_status=conversation.status,
            reason="no_agent_online",
            data={"from_branch_id": base.pk if base else None, "to_branch_id": overflowed_to.pk},
        )
    return conversation


# --- dispatch: triggers ---------------------------------------------------------------------


def _strategy_for(conversation: Conversation, settings_: DispatchSettings) -> str:
    if selectors.queue_length(tenant_id=conversation.tenant_id) > settings_.queue_threshold:
        return selectors.IDLE_FIRST  # F57: a long queue goes to idle agents first
    return conversation.flags.get("strategy") or Strategy.LEAST_BUSY


def dispatch_for_agent(*, agent_id: int, wait: bool = True) -> list[Conversation] | None:
    """An agent has (maybe) free capacity: give them the oldest eligible waiting conversations,
    FIFO within priority, as many as fit. Under the agent's row lock, so concurrent callers for
    the same agent queue up, and SKIP LOCKED lets callers for different agents take different
    conversations without waiting on each other."""

    def attempt() -> list[Conversation] | None:
        taken: list[Conversation] = []
        with transaction.atomic():
            rows = User.objects.select_for_update(skip_locked=not wait).filter(pk=agent_id)
            agent = rows.first()
            if agent is None and not wait and User.objects.filter(pk=agent_id).exists():
                return None  # someone else is dispatching for this agent right now
            if agent is None or not agent.is_active or agent.status != AgentStatus.ONLINE or not agent.tenant_id:
                return taken
            free = agent.max_chats - conv_services.agent_active_count(agent_id=agent.pk)
            if free <= 0:
                return taken
            # Read the head of the queue without locks, then lock those rows one by one by
            # primary key, skipping any another dispatcher holds. (A single locking
            # SELECT ... ORDER BY ... LIMIT would sort after locking every matching row, so
            # parallel dispatchers would see the whole queue locked.)
            eligible = Conversation.objects.filter(selectors.queue_for_agent_q(agent)).order_by(*selectors.QUEUE_ORDER)
            tried: set[int] = set()
            for _batch in range(3):
                limit = free + len(tried) + 10
                head = list(eligible.values_list("pk", flat=True)[:limit])
                ids = [pk for pk in head if pk not in tried]
                if not ids:
                    break
                for conversation_id in ids:
                    tried.add(conversation_id)
                    conversation = (
                        Conversation.objects.select_for_update(skip_locked=True)
                        .filter(pk=conversation_id, status=ConversationStatus.QUEUED, assignee__isnull=True)
                        .first()
                    )
                    if conversation is None:
                        continue
                    # We hold the agent's lock, know their free seats, and hold this queued row.
                    taken.append(conv_services.assign_locked(conversation=conversation, agent=agent, reason="auto"))
                    if len(taken) >= free:
                        break
                if len(taken) >= free or len(head) < limit:
                    break  # seats filled, or we have seen the whole eligible queue
            if taken:
                _queue_changed_on_commit(agent.tenant_id)
        return taken

    return retry_on_deadlock(attempt)


def dispatch_conversation(*, conversation_id: int, conversation: Conversation | None = None) -> Conversation | None:
    """A conversation entered the queue: find it an agent now, or tell the visitor their place.

    Each candidate agent is served through `dispatch_for_agent`, which takes the head of the
    queue for that agent: a newcomer never overtakes someone who has waited longer."""
    if conversation is None:
        conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or conversation.status != ConversationStatus.QUEUED:
        return conversation
    settings_ = selectors.dispatch_settings_get(tenant_id=conversation.tenant_id)
    candidates = selectors.candidate_agents(conversation=conversation, strategy=_strategy_for(conversation, settings_))
    sticky = conversation.flags.get("sticky_agent_id")
    if sticky:  # the visitor's last agent first, if they are online with room (checked under lock)
        candidates = [sticky] + [c for c in candidates if c != sticky]
    # First pass skips agents another process is dispatching for (no convoy on the most
    # attractive agent); the second waits for those, so a conversation is never left waiting
    # while an agent it could go to has room.
    skipped: list[int] = []
    for wait, agent_ids in ((False, candidates), (True, skipped)):
        for agent_id in list(agent_ids):
            taken = dispatch_for_agent(agent_id=agent_id, wait=wait)
            if taken is None:
                skipped.append(agent_id)
                continue
            for c in taken:
                if c.pk == conversation_id:
                    return c
            if not Conversation.objects.filter(pk=conversation_id, status=ConversationStatus.QUEUED).exists():
                return Conversation.objects.get(pk=conversation_id)
    if candidates:
        conversation.refresh_from_db()
    if conversation.status == ConversationStatus.QUEUED:
        _publish_position(conversation)
        _queue_changed_on_commit(conversation.tenant_id)
    return conversation


def _position_event(*, conversation_id: int, position: int, wait: selectors.QueueWait, as_of: int) -> dict:
    return {
        "type": "conversation.queued",
        "conversation_id": conversation_id,
        "position": position,
        "estimated_wait_seconds": wait.seconds_for(position),
        "agents_online": wait.agents_online,
        "as_of": as_of,
    }


def _publish_position(conversation: Conversation) -> None:
    as_of = selectors.queue_read_instant()
    position = selectors.queue_position(conversation=conversation)
    event = _position_event(
        conversation_id=conversation.pk,
        position=position,
        wait=selectors.queue_wait(tenant_id=conversation.tenant_id),
        as_of=as_of,
    )
    # The visitor's copy through the customer group; staff subscribed to it through its group.
    publish(groups.customer_group(conversation.tenant_id, conversation.customer_id), event)
    publish(groups.conversation_group(conversation.tenant_id, conversation.pk), event, staff_only=True)


def _queue_changed_on_commit(tenant_id: int) -> None:
    """Positions of everyone waiting moved: tell them now. Changes that come while a refresh
    is waiting to run are covered by it (one pending refresh per tenant), so a burst costs one
    refresh, and no visitor's place is older than one refresh."""

    def schedule() -> None:
        from apps.routing.tasks import broadcast_queue_positions

        if cache.add(queue_refresh_key(tenant_id), 1, timeout=30):  # expires if the task is lost
            broadcast_queue_positions.apply_async(args=[tenant_id])

    transaction.on_commit(schedule)


def queue_refresh_key(tenant_id: int) -> str:
    return f"routing:qpos-pending:{tenant_id}"


def on_queue_changed(*, tenant_id: int) -> None:
    _queue_changed_on_commit(tenant_id)


def queue_positions_publish(*, tenant_id: int, limit: int = 200) -> int:
    """Tell every waiting visitor (up to `limit`) their place and estimated wait."""
    # From here on, a new change schedules a new refresh: this one reads the queue after it.
    cache.delete(queue_refresh_key(tenant_id))
    as_of = selectors.queue_read_instant()
    waiting = list(
        Conversation.objects.filter(tenant_id=tenant_id, status=ConversationStatus.QUEUED)
        .order_by(*selectors.QUEUE_ORDER)
        .values_list("pk", "customer_id")[:limit]
    )
    wait = selectors.queue_wait(tenant_id=tenant_id)
    length = selectors.queue_length(tenant_id=tenant_id)

    def send_all() -> None:  # no database access in here: it runs in a worker thread
        for index, (conversation_id, customer_id) in enumerate(waiting, start=1):
            event = _position_event(conversation_id=conversation_id, position=index, wait=wait, as_of=as_of)
            publish(groups.customer_group(tenant_id, customer_id), event)
            publish(groups.conversation_group(tenant_id, conversation_id), event, staff_only=True)
        publish(groups.tenant_staff_group(tenant_id), {"type": "queue.changed", "queue_length": length})

    if transaction.get_connection().in_atomic_block:
        send_all()  # deferred to on_commit by publish() itself
    else:
        # One event loop (and one Redis connection) for the whole batch instead of one per event.
        async_to_sync(sync_to_async(send_all, thread_sensitive=False))()
    return len(waiting)


def queue_sweep() -> int:
    """Safety net behind the event-driven path (a wake-up lost with a crashed process, a
    conversation skipped while a message held its lock): offer the queue to every online agent
    with free capacity. Running it twice assigns nothing more."""
    assigned = 0
    tenant_ids = set(Conversation.objects.filter(status=ConversationStatus.QUEUED).values_list("tenant_id", flat=True))
    for tenant_id in tenant_ids:
        for agent_id in selectors.agents_online(tenant_id=tenant_id).values_list("pk", flat=True):
            assigned += len(dispatch_for_agent(agent_id=agent_id) or [])
    return assigned


# --- hook listeners -------------------------------------------------------------------------


def on_conversation_requeued(*, conversation: Conversation, text: str = "") -> None:
    route_conversation(conversation=conversation, text=text)
    conversation_id = conversation.pk
    transaction.on_commit(lambda: dispatch_conversation(conversation_id=conversation_id))


def on_agent_capacity_freed(*, agent_id: int, tenant_id: int) -> None:
    transaction.on_commit(lambda: dispatch_for_agent(agent_id=agent_id))


def on_conversation_assigned(*, conversation: Conversation, agent) -> None:
    updated = AgentPresence.objects.filter(agent_id=agent.pk).update(last_assigned_at=conversation.assigned_at)
    if not updated:
        AgentPresence.objects.get_or_create(
            agent_id=agent.pk, defaults={"tenant_id": agent.tenant_id, "last_assigned_at": conversation.assigned_at}
        )


def _publish_agent_status(agent) -> None:
    if not agent.tenant_id:
        return
    publish(
        [groups.tenant_staff_group(agent.tenant_id), groups.agent_group(agent.tenant_id, agent.pk)],
        {
            "type": "agent.status",
            "agent_id": agent.pk,
            "status": agent.status,
            "active_chats": conv_services.agent_active_count(agent_id=agent.pk),
            "max_chats": agent.max_chats,
        },
    )


def on_status_changed(*, agent, previous: str, status: str, actor, reason: str) -> None:
    _publish_agent_status(agent)
    agent_id = agent.pk
    serving = (AgentStatus.ONLINE, AgentStatus.BUSY)
    if agent.tenant_id and (previous in serving) != (status in serving):
        # Whether anybody can serve changed: waiting visitors are told (a wait, or leave a message).
        _queue_changed_on_commit(agent.tenant_id)
    if status == AgentStatus.ONLINE:
        transaction.on_commit(lambda: dispatch_for_agent(agent_id=agent_id))
    elif status == AgentStatus.OFFLINE:
        # Gone past the grace period (or logged out): nobody may be left waiting on them.
        transaction.on_commit(lambda: conv_services.conversations_release_agent(agent_id=agent_id))


def on_capacity_changed(*, agent) -> None:
    _publish_agent_status(agent)
    agent_id = agent.pk
    transaction.on_commit(lambda: dispatch_for_agent(agent_id=agent_id))


def on_messages_committed(*, messages) -> None:
    # The customer wrote to a conversation waiting for them: back in the agent's active work.
    # Only a message written after the wait began wakes it: these listeners may run again later
    # (apps/messaging/outbox.py), when the agent may have started a new wait.
    woken: dict[int, dt.datetime] = {}
    for m in messages:
        since = m.conversation.waiting_since
        if m.sender_kind == "visitor" and since is not None and m.created_at >= since:
            woken[m.conversation_id] = max(m.created_at, woken.get(m.conversation_id, m.created_at))
    if woken:
        from apps.routing.waiting import wake_on_customer_message

        for conversation_id in sorted(woken):
            wake_on_customer_message(conversation_id=conversation_id, written_at=woken[conversation_id])
    # A message holding the row lock can make a dispatcher skip a queued conversation; try it
    # again now that the message is committed.
    queued = {m.conversation_id for m in messages if m.conversation.status == ConversationStatus.QUEUED}
    for conversation_id in sorted(queued):
        dispatch_conversation(conversation_id=conversation_id)


# --- presence -------------------------------------------------------------------------------


def _presence_write(agent, **fields) -> None:
    """The agent's durable presence facts (one UPDATE; the row is created the first time)."""
    if not AgentPresence.objects.filter(agent_id=agent.pk).update(**fields):
        AgentPresence.objects.get_or_create(agent_id=agent.pk, defaults={"tenant_id": agent.tenant_id, **fields})


def presence_connection_changed(*, agent, channel_name: str, connected: bool, now: dt.datetime | None = None) -> None:
    """Live websocket connections are counted in Redis (apps.messaging.presence, shared by every
    server process); the database keeps only when the agent last connected and when their last
    connection went. The first connection makes an offline agent invisible (F6: invisible at
    login); the last one leaving starts the grace period after which the agent is offline."""
    if not agent.tenant_id or not agent.is_agent_role:
        return
    now = now or timezone.now()
    key = im_presence.agent_key(agent.pk)
    if connected:
        im_presence.connection_seen(key, channel_name)
        _presence_write(agent, last_connected_at=now, disconnected_at=None)
        # The handshake has just read the account: its status is current.
        if agent.status == AgentStatus.OFFLINE:
            try:
                account_services.agent_set_status(agent=agent, status=AgentStatus.INVISIBLE, reason="connected")
            except ApplicationError:
                pass
        return
    if im_presence.connection_gone(key, channel_name):
        return
    _presence_write(agent, disconnected_at=now)
    # A connection that came meanwhile wrote `disconnected_at=None` before or after this: undo
    # the grace start if it counts now (connect: Redis first, then the row; here the reverse).
    if im_presence.live_connections(key):
        _presence_write(agent, disconnected_at=None)
        return
    grace = selectors.dispatch_settings_get(tenant_id=agent.tenant_id).presence_grace_seconds
    from apps.routing.tasks import agent_presence_check

    agent_presence_check.apply_async(args=[agent.pk], countdown=grace)


def agent_presence_check(*, agent_id: int, now: dt.datetime | None = None) -> bool:
    """Offline if every connection has been gone for the grace period. Idempotent."""
    now = now or timezone.now()
    agent = User.objects.filter(pk=agent_id).first()
    if agent is None or agent.status == AgentStatus.OFFLINE or not agent.tenant_id:
        return False
    if im_presence.live_connections(im_presence.agent_key(agent_id), at=now.timestamp()):
        return False
    presence = AgentPresence.objects.filter(agent_id=agent_id).first()
    if presence is None or presence.disconnected_at is None:
        return False
    grace = selectors.dispatch_settings_get(tenant_id=agent.tenant_id).presence_grace_seconds
    if (now - presence.disconnected_at).total_seconds() < grace:
        return False
    account_services.agent_set_status(agent=agent, status=AgentStatus.OFFLINE, reason="disconnected")
    return True


def presence_sweep(*, now: dt.datetime | None = None) -> int:
    """Beat job: agents whose every connection stopped showing life (a crashed or killed daphne
    never runs disconnect) start their grace period; agents whose grace period is over go
    offline. Returns the number of agents taken offline. Safe to run twice."""
    now = now or timezone.now()
    connected = list(
        AgentPresence.objects.filter(disconnected_at__isnull=True, last_connected_at__isnull=False)
        .exclude(agent__status=AgentStatus.OFFLINE)
        .values_list("agent_id", flat=True)
    )
    counts = im_presence.live_counts([im_presence.agent_key(a) for a in connected], at=now.timestamp())
    silent = [agent_id for agent_id, n in zip(connected, counts, strict=True) if n == 0]
    if silent:
        AgentPresence.objects.filter(agent_id__in=silent, disconnected_at__isnull=True).update(disconnected_at=now)
    ids = (
        AgentPresence.objects.filter(disconnected_at__isnull=False)
        .exclude(agent__status=AgentStatus.OFFLINE)
        .values_list("agent_id", flat=True)
    )
    return sum(1 for agent_id in list(ids) if agent_presence_check(agent_id=agent_id, now=now))


# --- settings, switch, leave-a-message ------------------------------------------------------

SETTINGS_FIELDS = {f.name for f in DispatchSettings._meta.get_fields() if getattr(f, "editable", False)} - {
    "id",
    "tenant",
    "updated_at",
}


def dispatch_settings_update(*, actor, tenant_id: int | None = None, **changes) -> DispatchSettings:
    """F45/F58: super admins change their tenant's switches and timeouts (platform operators any
    tenant's, named by `tenant_id`); every change is audited."""
    tenant_id = tenant_id or actor.tenant_id
    if not (actor.is_platform_operator or (actor.is_super_admin and tenant_id == actor.tenant_id)) or not tenant_id:
        raise ApplicationError("permission_denied", _("Only a super admin can change dispatch settings."), status=403)
    unknown = set(changes) - SETTINGS_FIELDS
    if unknown:
        raise ApplicationError("invalid", _("Unknown settings: %(names)s") % {"names": ", ".join(sorted(unknown))})
    with transaction.atomic():
        obj = selectors.dispatch_settings_get(tenant_id=tenant_id, fresh=True)
        obj = DispatchSettings.objects.select_for_update().get(pk=obj.pk)
        diff = {}
        for name, value in changes.items():
            if getattr(obj, name) != value:
                diff[name] = [getattr(obj, name), value]
                setattr(obj, name, value)
        obj.full_clean(exclude=["tenant"])
        if diff:
            obj.save()
            transaction.on_commit(lambda: selectors.dispatch_settings_forget(obj.tenant_id))
            audit_record(
                actor=actor,
                action="dispatch.settings",
                obj=obj,
                changes={k: [str(a), str(b)] for k, (a, b) in diff.items()},
            )
        return obj


def calendar_entry_save(*, actor, entry: WorkingHours | Holiday) -> WorkingHours | Holiday:
    """A working-hours or holiday row from the back office. Dispatch remembers calendars for a few
    seconds per process: this one forgets the tenant's on commit."""
    with transaction.atomic():
        entry.save()
        tenant_id = entry.tenant_id
        transaction.on_commit(lambda: selectors.dispatch_settings_forget(tenant_id))
    return entry


def calendar_entry_delete(*, actor, entry: WorkingHours | Holiday) -> None:
    with transaction.atomic():
        tenant_id = entry.tenant_id
        entry.delete()
        transaction.on_commit(lambda: selectors.dispatch_settings_forget(tenant_id))


def load_evaluate(*, now: dt.datetime | None = None) -> int:
    """F58 automatic mode: pause intake when the queue or the message rate passes its limit,
    resume below 80 % of both (hysteresis, so it does not flap). Returns the tenants changed."""
    from apps.messaging.models import Message

    now = now or timezone.now()
    changed = 0
    for s in DispatchSettings.objects.filter(auto_limit_enabled=True):
        q = selectors.queue_length(tenant_id=s.tenant_id)
        mps = Message.objects.filter(tenant_id=s.tenant_id, created_at__gte=now - dt.timedelta(seconds=10)).count() / 10
        over = q >= s.auto_limit_queue_length or mps >= s.auto_limit_messages_per_second
        under = q < 0.8 * s.auto_limit_queue_length and mps < 0.8 * s.auto_limit_messages_per_second
        if over and not s.auto_paused:
            DispatchSettings.objects.filter(pk=s.pk).update(auto_paused=True, auto_paused_at=now)
            selectors.dispatch_settings_forget(s.tenant_id)
            audit_record(
                actor=None,
                action="dispatch.auto_pause",
                obj=s,
                tenant=s.tenant,
                changes={"queue": q, "messages_per_second": mps},
            )
            changed += 1
        elif under and s.auto_paused:
            DispatchSettings.objects.filter(pk=s.pk).update(auto_paused=False)
            selectors.dispatch_settings_forget(s.tenant_id)
            audit_record(
                actor=None,
                action="dispatch.auto_resume",
                obj=s,
                tenant=s.tenant,
                changes={"queue": q, "messages_per_second": mps},
            )
            changed += 1
    return changed


def leave_message_create(
    *, channel, customer=None, name: str = "", contact: str, content: str, reason: str = "", conversation=None
) -> LeaveMessage:
    contact, content = (contact or "").strip(), (content or "").strip()
    if not contact or len(contact) > 100:
        raise ApplicationError("invalid_contact", _("Please give a phone number or email (at most 100 characters)."))
    if not content or len(content) > 2000:
        raise ApplicationError("invalid_content", _("Please write your message (at most 2000 characters)."))
    return LeaveMessage.objects.create(
        tenant_id=channel.tenant_id,
        channel=channel,
        customer=customer,
        conversation=conversation,
        name=name[:100],
        contact=contact,
        content=content,
        reason=reason[:30],
    )


# --- timeouts (beat) --------------------------------------------------------------------------


def _settings_by_tenant(tenant_ids) -> dict[int, DispatchSettings]:
    return {t: selectors.dispatch_settings_get(tenant_id=t, fresh=True) for t in set(tenant_ids)}


def _system_notice(conversation_id: int, body: str) -> None:
    from apps.messaging.models import ContentType, SenderKind
    from apps.messaging.services import message_create

    message_create(
        conversation_id=conversation_id, sender_kind=SenderKind.SYSTEM, body=body, content_type=ContentType.SYSTEM
    )


def timeout_first_response(*, now: dt.datetime | None = None) -> int:
    """Reassign conversations whose agent has not answered within N seconds (the agent is
    excluded from taking it again). Idempotent: a requeued conversation is no longer active."""
    now = now or timezone.now()
    rows = list(
        Conversation.objects.filter(
            status=ConversationStatus.ACTIVE, first_response_at__isnull=True, assigned_at__isnull=False
        ).values_list("pk", "tenant_id", "assignee_id", "assigned_at")
    )
    settings_ = _settings_by_tenant(r[1] for r in rows)
    done = 0
    for pk, tenant_id, assignee_id, assigned_at in rows:
        limit = settings_[tenant_id].first_response_timeout_seconds
        if not limit or assigned_at is None or assigned_at > now - dt.timedelta(seconds=limit):
            continue
        if conv_services.conversation_requeue(
            conversation_id=pk,
            reason="first_response_timeout",
            expected_agent_id=assignee_id,
            only_if_unanswered=True,
            assigned_before=now - dt.timedelta(seconds=limit),
        ):
            done += 1
    return done


def timeout_queue_wait(*, now: dt.datetime | None = None) -> int:
    """Visitors who waited too long are told to leave a message and the conversation closes."""
    now = now or timezone.now()
    rows = list(
        Conversation.objects.filter(status=ConversationStatus.QUEUED, queued_at__isnull=False).values_list(
            "pk", "tenant_id", "queued_at"
        )
    )
    settings_ = _settings_by_tenant(r[1] for r in rows)
    done = 0
    for pk, tenant_id, queued_at in rows:
        s = settings_[tenant_id]
        limit = s.queue_wait_timeout_seconds
        if not limit or queued_at is None or queued_at > now - dt.timedelta(seconds=limit):
            continue
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().filter(pk=pk, status=ConversationStatus.QUEUED).first()
            if locked is None:
                continue
            _system_notice(
                pk,
                s.queue_full_message
                or str(_("Sorry, all our agents are still busy. Please leave a message and we will get back to you.")),
            )
            conv_services.conversation_close(conversation_id=pk, reason="queue_timeout")
        done += 1
    return done


def timeout_visitor_inactivity(*, now: dt.datetime | None = None) -> int:
    """Warn a silent visitor once, then close if they stay silent. Idempotent: the warning is
    stamped on the row and is only sent again after the visitor speaks."""
    now = now or timezone.now()
    rows = list(
        # Conversations waiting for the customer have their own silence (apps.routing.waiting).
        Conversation.objects.filter(status=ConversationStatus.ACTIVE, waiting_since__isnull=True)
        .annotate(ref=Coalesce("last_visitor_message_at", "assigned_at"))
        .values_list("pk", "tenant_id", "ref", "inactivity_warned_at")
    )
    settings_ = _settings_by_tenant(r[1] for r in rows)
    done = 0
    for pk, tenant_id, ref, warned_at in rows:
        s = settings_[tenant_id]
        warn, close = s.visitor_inactivity_warning_seconds, s.visitor_inactivity_close_seconds
        if not warn or ref is None:
            continue
        if warned_at is not None and warned_at >= ref:
            if now - warned_at >= dt.timedelta(seconds=max(close - warn, 0)):
                conv_services.conversation_close(conversation_id=pk, reason="visitor_inactive")
                done += 1
            continue
        if ref <= now - dt.timedelta(seconds=warn):
            with transaction.atomic():
                stamped = (
                    Conversation.objects.filter(pk=pk, status=ConversationStatus.ACTIVE)
                    .filter(Q(inactivity_warned_at__isnull=True) | Q(inactivity_warned_at__lt=ref))
                    .update(inactivity_warned_at=now)
                )
                if stamped:
                    conv = Conversation.objects.get(pk=pk)
                    conv_services.conversation_event_record(
                        conversation=conv,
                        kind="inactivity_warned",
                        from_status=conv.status,
                        to_status=conv.status,
                        reason="visitor_inactive",
                    )
                    _system_notice(
                        pk,
                        s.inactivity_warning_message
                        or str(_("Are you still there? This conversation will close soon if we do not hear from you.")),
                    )
                    done += 1
    return done


def timeout_transfers(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    rows = list(Transfer.objects.filter(status=TransferStatus.PENDING).values_list("pk", "tenant_id", "created_at"))
    settings_ = _settings_by_tenant(r[1] for r in rows)
    done = 0
    for pk, tenant_id, created_at in rows:
        if created_at <= now - dt.timedelta(seconds=settings_[tenant_id].transfer_timeout_seconds):
            if conv_services.conversation_transfer_timeout(transfer_id=pk) is not None:
                done += 1
    return done
