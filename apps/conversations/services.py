"""Conversation lifecycle writes. Dispatch (apps.routing) extends this through hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import AgentStatus, SkillGroup, User
from apps.conversations import hooks, policy
from apps.conversations.locking import retry_on_deadlock
from apps.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    ConversationTag,
    Participant,
    ParticipantKind,
    Rating,
    Transfer,
    TransferStatus,
)
from apps.conversations.serializers import conversation_to_dict
from apps.core.errors import ApplicationError
from apps.messaging import groups
from apps.messaging.publish import publish, publish_conversation_event

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def conversation_event_record(
    *,
    conversation: Conversation,
    kind: str,
    from_status: str = "",
    to_status: str = "",
    actor=None,
    agent=None,
    agent_id: int | None = None,
    reason: str = "",
    data: dict | None = None,
) -> ConversationEvent:
    event = ConversationEvent.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if getattr(actor, "pk", None) else None,
        agent_id=agent.pk if agent is not None else agent_id,
        branch_id=conversation.branch_id,
        reason=reason,
        data=data or {},
    )
    hooks.run_lifecycle_event(event=event)
    return event


# --- attribution: which branch holds a conversation -------------------------------------------
# A conversation belongs to one branch at every moment (Conversation.branch), and every event row
# carries the branch that held it once that transition was done. The branch is the channel's; or
# what routing chose (rule target, overflow); for a tenant-wide channel that routing gave no branch,
# the branch of the agent who took it (flag BRANCH_FROM_AGENT: the next assignee decides again);
# a transfer accepted by an agent of another branch moves it there. Reports count each figure for
# the branch in the event rows (apps.reports.metrics); supervisors' reach follows Conversation.branch.
BRANCH_FROM_AGENT = "branch_from_agent"


def _take_branch_of_agent(conversation: Conversation, agent, *, transfer: bool = False) -> list[str]:
    """Move the conversation to the agent's branch when the rules above say so; returns the
    fields to save (none when nothing changed)."""
    if not agent.branch_id or agent.branch_id == conversation.branch_id:
        return []
    if not (transfer or conversation.branch_id is None or conversation.flags.get(BRANCH_FROM_AGENT)):
        return []
    conversation.branch_id = agent.branch_id
    fields = ["branch"]
    if not transfer:
        conversation.flags = {**conversation.flags, BRANCH_FROM_AGENT: True}
        fields.append("flags")
    return fields


def _attribute_to_routed_branch(event: ConversationEvent, conversation: Conversation) -> None:
    """Routing runs right after the event that queued the conversation, in the same transaction:
    the queueing belongs to the branch routing chose."""
    if event.branch_id != conversation.branch_id:
        event.branch_id = conversation.branch_id
        ConversationEvent.objects.filter(pk=event.pk).update(branch_id=conversation.branch_id)


def conversation_open(
    *, channel, customer, status: str, subject: str = "", priority: int = 0, actor=None
) -> tuple[Conversation, ConversationEvent] | None:
    """Write a new conversation (row, the visitor's participant row, the `created` event) for a
    visitor on a channel, or return None when one is already open there (the unique open_key:
    two tabs opening at the same moment). Called by dispatch's intake service
    (`apps.routing.intake.conversation_intake`), which gates, routes and assigns it: entry points
    call that, not this. Listeners of `on_conversation_started` (the bot's greeting) run inside."""
    open_key = Conversation.make_open_key(channel.pk, customer.pk)
    now = timezone.now()
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                tenant_id=channel.tenant_id,
                channel=channel,
                customer=customer,
                branch_id=channel.branch_id,
                status=status,
                open_key=open_key,
                subject=subject,
                priority=priority,
                queued_at=now if status == ConversationStatus.QUEUED else None,
            )
            Participant.objects.create(
                tenant_id=channel.tenant_id, conversation=conversation, kind=ParticipantKind.VISITOR
            )
            created = conversation_event_record(
                conversation=conversation, kind="created", to_status=status, actor=actor
            )
            hooks.run_conversation_started(conversation=conversation, actor=actor)
    except IntegrityError:
        if Conversation.objects.filter(open_key=open_key).exists():
            return None
        raise
    return conversation, created


def conversation_attribute_routed(*, event: ConversationEvent, conversation: Conversation) -> None:
    """Routing ran right after `event` (created, hand-off, requeue) in the same transaction: the
    event belongs to the branch routing chose (see attribution above)."""
    _attribute_to_routed_branch(event, conversation)


# --- lifecycle: assign, accept, release, close, transfer, rating, hand-off ----------------
# Every function below follows the lock order of apps.conversations.locking: agent rows
# (ascending id), then the conversation row, then transfer rows.

ACTIVE_LOAD_STATUSES = (ConversationStatus.ACTIVE, ConversationStatus.TRANSFER_PENDING)


def agent_active_count(*, agent_id: int) -> int:
    """An agent's load: conversations they hold (in service or being transferred away)."""
    return Conversation.objects.filter(
        assignee_id=agent_id, status__in=ACTIVE_LOAD_STATUSES, load_released=False
    ).count()


def _not_found() -> ApplicationError:
    return ApplicationError("not_found", _("Conversation not found."), status=404)


def _publish_updated(conversation: Conversation, *, agent_ids: tuple = ()) -> None:
    """To the access policy's audience at commit (and the agents named, who may just have lost
    it), and the visitor."""
    publish_conversation_event(
        conversation,
        {"type": "conversation.updated", "conversation": conversation_to_dict(conversation)},
        also_user_ids=agent_ids,
        visitor=True,
    )


def _publish_queue_changed(tenant_id: int) -> None:
    length = Conversation.objects.filter(tenant_id=tenant_id, status=ConversationStatus.QUEUED).count()
    publish(groups.tenant_staff_group(tenant_id), {"type": "queue.changed", "queue_length": length})


def visitor_notice(conversation: Conversation, body: StrOrPromise) -> None:
    """A line the visitor (and the staff) read in the conversation itself ("客服张伟为您服务",
    "正在为您重新排队"): a system message with its own seq, so every screen shows it in the
    order it happened. Runs inside the caller's transaction."""
    from apps.messaging.models import ContentType, SenderKind
    from apps.messaging.services import message_create

    message_create(
        conversation_id=conversation.pk,
        sender_kind=SenderKind.SYSTEM,
        content_type=ContentType.SYSTEM,
        body=str(body),
        allow_closed=True,
    )
    conversation.last_seq += 1


SERVING_STATUSES = (AgentStatus.ONLINE, AgentStatus.BUSY)


def agent_can_serve(agent) -> tuple[bool, str, str]:
    """May this person be given a conversation by someone else right now (a transfer, a
    supervisor's reassignment)? (yes/no, error code, the reason in the user's language)."""
    if not agent.is_active or not agent.is_agent_role:
        return False, "not_an_agent", str(_("This person cannot serve conversations."))
    if agent.status not in SERVING_STATUSES:
        return (
            False,
            "agent_unavailable",
            str(
                _("%(name)s is %(status)s and cannot take conversations now.")
                % {"name": agent.name, "status": agent.get_status_display()}
            ),
        )
    if agent_active_count(agent_id=agent.pk) >= agent.max_chats:
        return (
            False,
            "agent_full",
            str(_("%(name)s has no free seat (%(n)d of %(n)d).") % {"name": agent.name, "n": agent.max_chats}),
        )
    return True, "", ""


def _lock_agents(ids) -> dict:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    return {u.pk: u for u in User.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _lock_conversation(conversation_id: int) -> Conversation:
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise _not_found()
    return conversation


def _lock_assignee_then_conversation(conversation_id: int, extra_agent_ids=()) -> tuple[Conversation, dict]:
    """Lock the current assignee (and extra agents) before the conversation. The assignee is
    read without a lock first; if it changed before we got the locks, start over."""
    for _attempt in range(5):
        current = Conversation.objects.filter(pk=conversation_id).values_list("assignee_id", flat=True).first()
        if current is None and not Conversation.objects.filter(pk=conversation_id).exists():
            raise _not_found()
        agents = _lock_agents([current, *extra_agent_ids])
        conversation = _lock_conversation(conversation_id)
        if conversation.assignee_id == current:
            return conversation, agents
    raise ApplicationError("busy", _("The conversation is changing; please try again."), status=409)


def _can_act_as_staff(actor, conversation: Conversation) -> bool:
    """Who may act on it (the access policy's ACT: the assignee, active participants, managers in
    reach), or an agent who may see a queued conversation."""
    if actor is None:
        return True
    if conversation.assignee_id == actor.pk and conversation.tenant_id == actor.tenant_id and actor.is_active:
        return True
    if policy.allows(actor, conversation, policy.ACT):
        return True
    return conversation.status == ConversationStatus.QUEUED and policy.allows(actor, conversation, policy.VIEW)


def _require_visible(actor, conversation: Conversation) -> None:
    if actor is not None:
        policy.check(actor, conversation, policy.VIEW)


def _join(conversation: Conversation, agent, kind=ParticipantKind.AGENT) -> None:
    # No get_or_create: it opens a savepoint, which costs a round trip on the hot path.
    # silent=False: an onlooker's read mark may have left a silent row; serving makes it visible.
    rejoined = Participant.objects.filter(conversation=conversation, kind=kind, user=agent).update(
        left_at=None, silent=False
    )
    if not rejoined:
        Participant.objects.create(tenant_id=conversation.tenant_id, conversation=conversation, kind=kind, user=agent)


def _leave(conversation: Conversation, agent_id: int | None) -> None:
    if agent_id:
        Participant.objects.filter(conversation=conversation, user_id=agent_id, left_at__isnull=True).update(
            left_at=timezone.now()
        )


def assign_locked(*, conversation: Conversation, agent, actor=None, reason: str = "auto") -> Conversation:
    """The write half of an assignment. The caller holds the agent's and the conversation's
    row locks and has checked the agent's capacity and that the conversation is queued."""
    now = timezone.now()
    previous = conversation.status
    conversation.status = ConversationStatus.ACTIVE
    conversation.assignee = agent
    conversation.assigned_at = now
    conversation.inactivity_warned_at = None
    moved = _take_branch_of_agent(conversation, agent)
    conversation.save(update_fields=["status", "assignee", "assigned_at", "inactivity_warned_at", *moved])
    _join(conversation, agent)
    visitor_notice(conversation, _("%(name)s is now serving you.") % {"name": agent.name})
    conversation_event_record(
        conversation=conversation,
        kind="assigned",
        from_status=previous,
        to_status=conversation.status,
        actor=actor,
        agent=agent,
        reason=reason,
        data={
            "waited_ms": int((now - conversation.queued_at).total_seconds() * 1000) if conversation.queued_at else None
        },
    )
    hooks.run_conversation_assigned(conversation=conversation, agent=agent)
    if previous == ConversationStatus.QUEUED:
        hooks.run_queue_changed(tenant_id=conversation.tenant_id)
    payload = {
        "type": "conversation.assigned",
        "conversation": conversation_to_dict(conversation),
        "agent_id": agent.pk,
    }
    publish_conversation_event(conversation, payload, also_user_ids=(agent.pk,), visitor=True)
    return conversation


def conversation_assign(
    *,
    conversation_id: int,
    agent_id: int,
    actor=None,
    reason: str = "auto",
    require_online: bool = True,
) -> Conversation:
    """Give a queued conversation to an agent, never above their limit, never twice.

    The agent row lock serialises everything that changes that agent's load across processes;
    the conversation row lock makes sure only one assignee wins. A lost race (agent full,
    conversation taken) raises its ApplicationError like any refusal: the caller may try another.
    """

    def attempt() -> Conversation:
        with transaction.atomic():
            agents = _lock_agents([agent_id])
            agent = agents.get(agent_id)
            if agent is None or not agent.is_agent_role:
                raise ApplicationError("agent_not_found", _("Agent not found."), status=404)
            if not agent.is_active or (require_online and agent.status != AgentStatus.ONLINE):
                raise ApplicationError("agent_unavailable", _("The agent is not available."), status=409)
            if agent.status == AgentStatus.OFFLINE:
                raise ApplicationError("agent_unavailable", _("The agent is not available."), status=409)
            if agent_active_count(agent_id=agent.pk) >= agent.max_chats:
                raise ApplicationError(
                    "agent_full", _("You have reached your limit of concurrent conversations."), status=409
                )
            # Only now lock the conversation: a dispatcher that skips locked rows must be able to
            # trust that a locked queued conversation is about to be assigned.
            conversation = _lock_conversation(conversation_id)
            if agent.tenant_id != conversation.tenant_id:
                raise ApplicationError("agent_not_found", _("Agent not found."), status=404)
            if conversation.status != ConversationStatus.QUEUED or conversation.assignee_id:
                raise ApplicationError("not_waiting", _("This conversation is no longer waiting."), status=409)
            return assign_locked(conversation=conversation, agent=agent, actor=actor, reason=reason)

    return retry_on_deadlock(attempt)


def conversation_accept(*, conversation_id: int, agent) -> Conversation:
    """F14: an agent picks a conversation from the queue by hand (status need not be online,
    but the limit holds)."""
    conversation_id = policy.check(agent, conversation_id, policy.VIEW).pk
    if not agent.is_agent_role:
        raise ApplicationError("not_an_agent", _("Only agents and supervisors can take conversations."), status=403)
    if agent.status == AgentStatus.OFFLINE:
        raise ApplicationError("agent_unavailable", _("Go online before taking conversations."), status=409)
    return conversation_assign(
        conversation_id=conversation_id,
        agent_id=agent.pk,
        actor=agent,
        reason="accepted",
        require_online=False,
    )


def conversation_requeue(
    *,
    conversation_id: int,
    reason: str,
    expected_agent_id: int | None = None,
    exclude_agent: bool = True,
    actor=None,
    only_if_unanswered: bool = False,
    assigned_before=None,
    notice: StrOrPromise = "",
    queue_skill_group_id: int | None = None,
) -> Conversation | None:
    """Take a conversation back from its agent into the queue (first-response timeout, the
    agent gone offline, handed back or transferred to a queue by staff). `notice` is told to the
    visitor in the conversation; `queue_skill_group_id` routes it to that skill group's queue.

    Returns None when nothing was done (already answered, already requeued ...): safe to call twice.
    """

    def attempt():
        with transaction.atomic():
            conversation, _agents = _lock_assignee_then_conversation(conversation_id)
            if conversation.status != ConversationStatus.ACTIVE or not conversation.assignee_id:
                return None
            if expected_agent_id is not None and conversation.assignee_id != expected_agent_id:
                return None
            if only_if_unanswered and conversation.first_response_at is not None:
                return None
            if assigned_before is not None and (
                conversation.assigned_at is None or conversation.assigned_at > assigned_before
            ):
                return None
            old_agent = conversation.assignee_id
            conversation.status = ConversationStatus.QUEUED
            conversation.assignee = None
            conversation.queued_at = conversation.queued_at or timezone.now()
            if exclude_agent and f",{old_agent}," not in conversation.excluded_agents:
                excluded = [a for a in conversation.excluded_agents.strip(",").split(",") if a] + [str(old_agent)]
                conversation.excluded_agents = "," + ",".join(excluded[-20:]) + ","
            conversation.flags = {**conversation.flags, "queue_skill_group_id": queue_skill_group_id}
            conversation.save(update_fields=["status", "assignee", "queued_at", "excluded_agents", "flags"])
            _leave(conversation, old_agent)
            if notice:
                visitor_notice(conversation, notice)
            event = conversation_event_record(
                conversation=conversation,
                kind="requeued",
                from_status=ConversationStatus.ACTIVE,
                to_status=ConversationStatus.QUEUED,
                actor=actor,
                agent_id=old_agent,
                reason=reason,
            )
            hooks.run_agent_capacity_freed(agent_id=old_agent, tenant_id=conversation.tenant_id)
            hooks.run_conversation_requeued(conversation=conversation, text="")
            hooks.run_queue_changed(tenant_id=conversation.tenant_id)
            _attribute_to_routed_branch(event, conversation)
            _publish_updated(conversation, agent_ids=(old_agent,))
            return conversation

    return retry_on_deadlock(attempt)


def _valid_tags(conversation: Conversation, tag_ids) -> list[ConversationTag]:
    tag_ids = list(dict.fromkeys(int(t) for t in tag_ids or []))
    tags = list(ConversationTag.objects.filter(tenant_id=conversation.tenant_id, pk__in=tag_ids, is_enabled=True))
    if len(tags) != len(tag_ids):
        raise ApplicationError("invalid_tag", _("Unknown conversation tag."))
    return tags


def conversation_close(
    *, conversation_id: int, actor=None, reason: str = "agent_closed", tag_ids: list[int] | None = None
) -> Conversation:
    """Close (F9), optionally with tags (F47). Closing a closed conversation changes nothing."""

    def attempt():
        with transaction.atomic():
            conversation, _agents = _lock_assignee_then_conversation(conversation_id)
            if actor is not None and not _can_act_as_staff(actor, conversation):
                policy.check(actor, conversation, policy.VIEW)
                raise ApplicationError(
                    "not_yours", _("Only the agent serving this conversation can close it."), status=403
                )
            if conversation.status == ConversationStatus.CLOSED:
                return conversation
            tags = _valid_tags(conversation, tag_ids) if tag_ids else []
            previous = conversation.status
            freed_agent_id = conversation.assignee_id if previous in ACTIVE_LOAD_STATUSES else None
            now = timezone.now()
            conversation.status = ConversationStatus.CLOSED
            conversation.open_key = None
            conversation.closed_at = now
            conversation.close_reason = reason[:50]
            conversation.save(update_fields=["status", "open_key", "closed_at", "close_reason"])
            if tags:
                conversation.tags.add(*tags)
            Transfer.objects.filter(conversation=conversation, status=TransferStatus.PENDING).update(
                status=TransferStatus.CANCELLED, resolved_at=now
            )
            Participant.objects.filter(conversation=conversation, left_at__isnull=True).update(left_at=now)
            conversation_event_record(
                conversation=conversation,
                kind="closed",
                from_status=previous,
                to_status=ConversationStatus.CLOSED,
                actor=actor,
                agent_id=conversation.assignee_id,
                reason=reason,
                data={"tags": [t.pk for t in tags]},
            )
            publish_conversation_event(
                conversation,
                {"type": "conversation.closed", "conversation_id": conversation.pk, "reason": reason},
                visitor=True,
            )
            hooks.run_conversation_closed(conversation=conversation)
            if previous == ConversationStatus.QUEUED:
                _publish_queue_changed(conversation.tenant_id)
                hooks.run_queue_changed(tenant_id=conversation.tenant_id)
            if freed_agent_id is not None:
                hooks.run_agent_capacity_freed(agent_id=freed_agent_id, tenant_id=conversation.tenant_id)
            return conversation

    return retry_on_deadlock(attempt)


def conversation_set_tags(*, conversation_id: int, actor, tag_ids: list[int]) -> Conversation:
    with transaction.atomic():
        conversation = _lock_conversation(conversation_id)
        _require_visible(actor, conversation)
        if not _can_act_as_staff(actor, conversation):
            raise ApplicationError("not_yours", _("Only the agent serving this conversation can tag it."), status=403)
        tags = _valid_tags(conversation, tag_ids)
        conversation.tags.set(tags)
        conversation_event_record(
            conversation=conversation,
            kind="tagged",
            from_status=conversation.status,
            to_status=conversation.status,
            actor=actor,
            data={"tags": [t.pk for t in tags]},
        )
        return conversation


def conversation_transfer_request(
    *, conversation_id: int, actor, to_agent_id: int | None = None, to_skill_group_id: int | None = None, note: str = ""
) -> Transfer:
    """F9: ask another agent (or any member of a skill group) to take over. The conversation
    stays with the current agent until the receiver accepts."""
    if bool(to_agent_id) == bool(to_skill_group_id):
        raise ApplicationError("invalid_target", _("Choose either an agent or a skill group to transfer to."))
    if len(note) > 500:
        raise ApplicationError("note_too_long", _("The note can be at most 500 characters."))
    with transaction.atomic():
        conversation, _agents = _lock_assignee_then_conversation(conversation_id)
        _require_visible(actor, conversation)
        if conversation.status != ConversationStatus.ACTIVE or conversation.assignee_id is None:
            raise ApplicationError("not_active", _("Only a conversation in service can be transferred."), status=409)
        if conversation.assignee_id != actor.pk and not actor.is_manager:
            raise ApplicationError(
                "not_yours", _("Only the agent serving this conversation can transfer it."), status=403
            )
        to_agent = group = None
        if to_agent_id:
            to_agent = User.objects.filter(tenant_id=conversation.tenant_id, pk=to_agent_id, is_active=True).first()
            if to_agent is None or not to_agent.is_agent_role:
                raise ApplicationError("agent_not_found", _("Agent not found."), status=404)
            if to_agent.pk == conversation.assignee_id:
                raise ApplicationError("invalid_target", _("The conversation is already with this agent."))
            # A request to someone who cannot take it would sit unanswered while the visitor waits.
            can, code, why = agent_can_serve(to_agent)
            if not can:
                raise ApplicationError(
                    code, why + " " + str(_("Transfer to a skill group's queue instead.")), status=409
                )
        elif to_skill_group_id:
            group = SkillGroup.objects.filter(
                tenant_id=conversation.tenant_id, pk=to_skill_group_id, is_enabled=True
            ).first()
            if group is None:
                raise ApplicationError("skill_group_not_found", _("Skill group not found."), status=404)
            members = group.members.filter(is_active=True).exclude(pk=conversation.assignee_id)
            if not any(agent_can_serve(m)[0] for m in members.filter(status__in=SERVING_STATUSES)):
                raise ApplicationError(
                    "skill_group_unavailable",
                    _("Nobody in %(group)s can take it now. Transfer to the queue of %(group)s instead.")
                    % {"group": group.name},
                    status=409,
                )
        transfer = Transfer.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            from_agent_id=conversation.assignee_id,
            to_agent=to_agent,
            to_skill_group=group,
            note=note,
        )
        conversation.status = ConversationStatus.TRANSFER_PENDING
        conversation.save(update_fields=["status"])
        conversation_event_record(
            conversation=conversation,
            kind="transfer_requested",
            from_status=ConversationStatus.ACTIVE,
            to_status=conversation.status,
            actor=actor,
            agent=to_agent,
            reason="transfer",
            data={"transfer_id": transfer.pk, "skill_group_id": group.pk if group else None},
        )
        # The receivers (the agent, or the group's members) are in the policy's audience while
        # the transfer is pending.
        publish_conversation_event(
            conversation,
            {
                "type": "conversation.transfer_requested",
                "conversation": conversation_to_dict(conversation),
                "transfer": transfer_to_dict(transfer),
            },
        )
        return transfer


def conversation_transfer_to_queue(
    *, conversation_id: int, actor, skill_group_id: int | None = None, note: str = ""
) -> Conversation:
    """Hand a conversation back to the queue (of a skill group, or wherever routing sends it),
    for whoever is free next; the visitor is told and sees their place in the queue."""
    if len(note) > 500:
        raise ApplicationError("note_too_long", _("The note can be at most 500 characters."))
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise _not_found()
    _require_visible(actor, conversation)
    if conversation.status != ConversationStatus.ACTIVE:
        raise ApplicationError("not_active", _("Only a conversation in service can be transferred."), status=409)
    if conversation.assignee_id != actor.pk and not actor.is_manager:
        raise ApplicationError("not_yours", _("Only the agent serving this conversation can transfer it."), status=403)
    group = None
    if skill_group_id:
        group = SkillGroup.objects.filter(tenant_id=conversation.tenant_id, pk=skill_group_id, is_enabled=True).first()
        if group is None:
            raise ApplicationError("skill_group_not_found", _("Skill group not found."), status=404)
    done = conversation_requeue(
        conversation_id=conversation.pk,
        reason="transferred_to_queue" if actor.pk == conversation.assignee_id else "handed_back",
        expected_agent_id=conversation.assignee_id,
        exclude_agent=False,
        actor=actor,
        notice=_("You are being transferred to another agent. Please wait a moment."),
        queue_skill_group_id=group.pk if group else None,
    )
    if done is None:
        raise ApplicationError("busy", _("The conversation is changing; please try again."), status=409)
    if note:
        from apps.messaging.models import SenderKind, Visibility
        from apps.messaging.services import message_create

        message_create(
            conversation_id=done.pk,
            sender_kind=SenderKind.SYSTEM,
            body=str(_("Transfer note from %(name)s: %(note)s") % {"name": actor.name, "note": note}),
            visibility=Visibility.STAFF,
        )
    return done


def transfer_to_dict(transfer: Transfer) -> dict:
    return {
        "id": transfer.pk,
        "conversation_id": transfer.conversation_id,
        "from_agent_id": transfer.from_agent_id,
        "to_agent_id": transfer.to_agent_id,
        "to_skill_group_id": transfer.to_skill_group_id,
        "status": transfer.status,
        "note": transfer.note,
        "created_at": transfer.created_at.isoformat() if transfer.created_at else None,
    }


def _transfer_receiver_ok(transfer: Transfer, actor) -> bool:
    if transfer.to_agent_id:
        return transfer.to_agent_id == actor.pk
    return transfer.to_skill_group_id is not None and actor.skill_groups.filter(pk=transfer.to_skill_group_id).exists()


def _transfer_resolve_publish(conversation: Conversation, transfer: Transfer, accepted: bool, reason: str) -> None:
    # Both ends are told, whether or not they can still see it (the sender after an accept).
    publish_conversation_event(
        conversation,
        {
            "type": "conversation.transfer_resolved",
            "conversation_id": conversation.pk,
            "transfer_id": transfer.pk,
            "accepted": accepted,
            "reason": reason,
        },
        also_user_ids=(transfer.from_agent_id, transfer.to_agent_id),
    )


def conversation_transfer_accept(*, transfer_id: int, actor) -> Conversation:
    transfer = Transfer.objects.filter(pk=transfer_id, tenant_id=actor.tenant_id).first()
    if transfer is None:
        raise ApplicationError("not_found", _("Transfer not found."), status=404)

    def attempt():
        with transaction.atomic():
            conversation, agents = _lock_assignee_then_conversation(
                transfer.conversation_id, extra_agent_ids=[actor.pk]
            )
            locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
            if locked.status != TransferStatus.PENDING or conversation.status != ConversationStatus.TRANSFER_PENDING:
                raise ApplicationError("transfer_resolved", _("This transfer has already been resolved."), status=409)
            if not _transfer_receiver_ok(locked, actor):
                raise ApplicationError("not_found", _("Transfer not found."), status=404)
            receiver = agents[actor.pk]
            if agent_active_count(agent_id=receiver.pk) >= receiver.max_chats:
                raise ApplicationError(
                    "agent_full", _("You have reached your limit of concurrent conversations."), status=409
                )
            now = timezone.now()
            old_agent = conversation.assignee_id
            conversation.status = ConversationStatus.ACTIVE
            conversation.assignee = receiver
            conversation.assigned_at = now
            moved = _take_branch_of_agent(conversation, receiver, transfer=True)
            conversation.save(update_fields=["status", "assignee", "assigned_at", *moved])
            _leave(conversation, old_agent)
            _join(conversation, receiver)
            visitor_notice(conversation, _("%(name)s is now serving you.") % {"name": receiver.name})
            locked.status = TransferStatus.ACCEPTED
            locked.resolved_by = receiver
            locked.resolved_at = now
            locked.save(update_fields=["status", "resolved_by", "resolved_at"])
            conversation_event_record(
                conversation=conversation,
                kind="transfer_accepted",
                from_status=ConversationStatus.TRANSFER_PENDING,
                to_status=conversation.status,
                actor=actor,
                agent=receiver,
                reason="transfer",
                data={"transfer_id": locked.pk, "from_agent_id": old_agent},
            )
            _transfer_resolve_publish(conversation, locked, True, "accepted")
            publish_conversation_event(
                conversation,
                {
                    "type": "conversation.assigned",
                    "conversation": conversation_to_dict(conversation),
                    "agent_id": receiver.pk,
                },
                also_user_ids=(receiver.pk,),
                visitor=True,
            )
            if old_agent:
                hooks.run_agent_capacity_freed(agent_id=old_agent, tenant_id=conversation.tenant_id)
            return conversation

    return retry_on_deadlock(attempt)


def _transfer_back(*, transfer_id: int, status: str, actor=None, reason: str, check=None) -> Conversation | None:
    with transaction.atomic():
        transfer = Transfer.objects.filter(pk=transfer_id).first()
        if transfer is None:
            raise ApplicationError("not_found", _("Transfer not found."), status=404)
        conversation = _lock_conversation(transfer.conversation_id)
        transfer = Transfer.objects.select_for_update().get(pk=transfer_id)
        if check is not None:
            check(transfer)
        if transfer.status != TransferStatus.PENDING:
            return None
        now = timezone.now()
        transfer.status = status
        transfer.resolved_by = actor
        transfer.resolved_at = now
        transfer.save(update_fields=["status", "resolved_by", "resolved_at"])
        if conversation.status == ConversationStatus.TRANSFER_PENDING:
            conversation.status = ConversationStatus.ACTIVE
            conversation.save(update_fields=["status"])
            holder = User.objects.filter(pk=conversation.assignee_id).values_list("status", flat=True).first()
            if holder == AgentStatus.OFFLINE:
                # The agent it returns to has gone meanwhile: it must not wait with nobody.
                conversation_id, agent_id = conversation.pk, conversation.assignee_id
                transaction.on_commit(
                    lambda: conversation_requeue(
                        conversation_id=conversation_id,
                        reason="agent_offline",
                        expected_agent_id=agent_id,
                        exclude_agent=False,
                        notice=_("The agent has left. You are back in the queue for the next free agent."),
                    )
                )
        conversation_event_record(
            conversation=conversation,
            kind=f"transfer_{status}",
            from_status=ConversationStatus.TRANSFER_PENDING,
            to_status=conversation.status,
            actor=actor,
            # The agent is the one the offer was made to (who declined or let it time out): reports
            # count it as an offer to that agent that was not taken.
            agent_id=(actor.pk if getattr(actor, "pk", None) else None) or transfer.to_agent_id,
            reason=reason,
            data={"transfer_id": transfer.pk, "from_agent_id": transfer.from_agent_id},
        )
        _transfer_resolve_publish(conversation, transfer, False, reason)
        return conversation


def conversation_transfer_decline(*, transfer_id: int, actor, reason: str = "declined") -> Conversation:
    def check(transfer):
        if transfer.tenant_id != actor.tenant_id or not _transfer_receiver_ok(transfer, actor):
            raise ApplicationError("not_found", _("Transfer not found."), status=404)

    conversation = _transfer_back(
        transfer_id=transfer_id,
        status=TransferStatus.DECLINED,
        actor=actor,
        reason=(reason or "declined")[:100],
        check=check,
    )
    if conversation is None:  # no longer pending: accepted, declined or timed out meanwhile
        raise ApplicationError("transfer_resolved", _("This transfer has already been resolved."), status=409)
    return conversation


def conversation_transfer_timeout(*, transfer_id: int) -> Conversation | None:
    """The receiver did not answer in time: the conversation returns to its agent. Idempotent."""
    return _transfer_back(transfer_id=transfer_id, status=TransferStatus.TIMED_OUT, reason="timeout")


def conversation_invite_rating(*, conversation_id: int, actor) -> Conversation:
    with transaction.atomic():
        conversation = _lock_conversation(conversation_id)
        _require_visible(actor, conversation)
        if conversation.assignee_id != actor.pk and not actor.is_manager:
            raise ApplicationError(
                "not_yours", _("Only the agent serving this conversation can invite a rating."), status=403
            )
        if Rating.objects.filter(conversation=conversation).exists():
            raise ApplicationError("already_rated", _("The visitor has already rated this conversation."), status=409)
        if conversation.status not in ACTIVE_LOAD_STATUSES and conversation.status != ConversationStatus.CLOSED:
            raise ApplicationError("not_served", _("Only a served conversation can be rated."), status=409)
        conversation.rating_invited_at = timezone.now()
        conversation.save(update_fields=["rating_invited_at"])
        conversation_event_record(
            conversation=conversation,
            kind="rating_invited",
            from_status=conversation.status,
            to_status=conversation.status,
            actor=actor,
            agent_id=conversation.assignee_id,
        )
        publish_conversation_event(
            conversation, {"type": "conversation.rating_requested", "conversation_id": conversation.pk}, visitor=True
        )
        return conversation


def rating_submit(
    *, conversation_id: int, customer, score: int, tags: list[str] | None = None, comment: str = ""
) -> Rating:
    """F3: the visitor rates a conversation they took part in, once."""
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise ApplicationError("invalid_score", _("The score must be between 1 and 5."))
    tags = [str(t)[:30] for t in (tags or [])][:10]
    if len(comment) > 1000:
        raise ApplicationError("comment_too_long", _("The comment can be at most 1000 characters."))
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update().filter(pk=conversation_id, customer_id=customer.pk).first()
        )
        if conversation is None:
            raise _not_found()
        if conversation.assignee_id is None:
            raise ApplicationError("not_served", _("Only a served conversation can be rated."), status=409)
        if Rating.objects.filter(conversation=conversation).exists():
            raise ApplicationError("already_rated", _("You have already rated this conversation."), status=409)
        rating = Rating.objects.create(
            tenant_id=conversation.tenant_id,
            conversation=conversation,
            score=score,
            tags=tags,
            comment=comment,
            agent_id=conversation.assignee_id,
        )
        conversation_event_record(
            conversation=conversation,
            kind="rated",
            from_status=conversation.status,
            to_status=conversation.status,
            agent_id=conversation.assignee_id,
            data={"score": score},
        )
        # The agent sees "rating received" live; the conversation's staff watching it too.
        publish_conversation_event(
            conversation,
            {
                "type": "conversation.rated",
                "conversation_id": conversation.pk,
                "score": score,
                "agent_id": conversation.assignee_id,
            },
            also_user_ids=(conversation.assignee_id,),
        )
        return rating


def conversation_handoff_to_human(
    *, conversation_id: int, reason: str = "visitor_request", text: str = "", actor=None
) -> Conversation:
    """The bot hands the visitor to a person: bot -> queued, then dispatch routes it.
    The same gates as a new conversation apply (switch, working hours, queue cap)."""
    conversation = Conversation.objects.select_related("channel", "customer").filter(pk=conversation_id).first()
    if conversation is None:
        raise _not_found()
    if conversation.status != ConversationStatus.BOT:
        return conversation
    hooks.run_before_conversation_start(
        channel=conversation.channel, customer=conversation.customer, status=ConversationStatus.QUEUED
    )
    with transaction.atomic():
        conversation = _lock_conversation(conversation_id)
        if conversation.status != ConversationStatus.BOT:
            return conversation
        conversation.status = ConversationStatus.QUEUED
        conversation.queued_at = timezone.now()
        conversation.save(update_fields=["status", "queued_at"])
        event = conversation_event_record(
            conversation=conversation,
            kind="handoff",
            from_status=ConversationStatus.BOT,
            to_status=ConversationStatus.QUEUED,
            actor=actor,
            reason=reason[:100],
        )
        hooks.run_conversation_requeued(conversation=conversation, text=text)
        _attribute_to_routed_branch(event, conversation)
        return conversation


def conversations_release_agent(*, agent_id: int, reason: str = "agent_offline") -> int:
    """Whoever held these conversations is gone (offline past the grace period): each one in
    service goes back to the queue for the next free agent and the visitor is told. Pending
    transfers stay pending (the receiver may still accept; if not, they come back here and are
    requeued). Safe to run twice. Returns how many were requeued."""
    ids = list(
        Conversation.objects.filter(assignee_id=agent_id, status=ConversationStatus.ACTIVE).values_list("pk", flat=True)
    )
    released = 0
    for conversation_id in ids:
        done = conversation_requeue(
            conversation_id=conversation_id,
            reason=reason,
            expected_agent_id=agent_id,
            exclude_agent=False,
            notice=_("The agent has left. You are back in the queue for the next free agent."),
        )
        released += done is not None
    return released
