"""Supervisors' interventions in a conversation (F23): watch, whisper, join, take over, hand back.

Every one is MANAGE in the access policy (apps.conversations.policy) and leaves an audit row.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.accounts.selectors import require_manager
from apps.conversations import policy
from apps.conversations.models import Conversation, Participant, ParticipantKind
from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record

MAX_WHISPER = 2000


def conversation_get_for_supervisor(*, actor, conversation_id: int, lock: bool = False) -> Conversation:
    require_manager(actor)
    return policy.check(actor, conversation_id, policy.MANAGE, lock=lock)


def _participant(conversation: Conversation, actor, *, silent: bool) -> Participant:
    p, created = Participant.objects.get_or_create(
        conversation=conversation,
        kind=ParticipantKind.SUPERVISOR,
        user=actor,
        defaults={"tenant_id": conversation.tenant_id, "silent": silent},
    )
    if not created and (p.silent != silent or p.left_at is not None):
        p.silent = silent and p.silent
        p.left_at = None
        p.save(update_fields=["silent", "left_at"])
    return p


@transaction.atomic
def intervention_watch(*, actor, conversation_id: int) -> Participant:
    """Watch silently: the supervisor is a silent participant the visitor never sees."""
    conv = conversation_get_for_supervisor(actor=actor, conversation_id=conversation_id)
    p = _participant(conv, actor, silent=True)
    audit_record(actor=actor, action="intervention.watch", obj=conv)
    return p


def intervention_whisper(*, actor, conversation_id: int, body: str):
    """Whisper to the agent: a staff-only message (never sent or replayed to the visitor)."""
    from apps.messaging.models import Visibility
    from apps.messaging.services import message_create

    body = (body or "").strip()
    if not body:
        raise ApplicationError("empty_message", _("Write something first."))
    if len(body) > MAX_WHISPER:
        raise ApplicationError("message_too_long", _("The message is too long."))
    with transaction.atomic():
        conv = conversation_get_for_supervisor(actor=actor, conversation_id=conversation_id)
        _participant(conv, actor, silent=True)
        msg = message_create(
            conversation_id=conv.pk,
            sender_kind="supervisor",
            sender_user=actor,
            body=body,
            visibility=Visibility.STAFF,
            allow_closed=False,
        )
        audit_record(actor=actor, action="intervention.whisper", obj=conv, changes={"message_id": msg.pk})
    return msg


def intervention_join(*, actor, conversation_id: int, body: str = ""):
    """Join openly: the supervisor becomes a visible participant (optionally saying something)."""
    from apps.messaging.services import message_create

    with transaction.atomic():
        conv = conversation_get_for_supervisor(actor=actor, conversation_id=conversation_id)
        if not conv.is_open:
            raise ApplicationError("conversation_closed", _("This conversation is closed."), status=409)
        p = _participant(conv, actor, silent=False)
        if p.silent:
            Participant.objects.filter(pk=p.pk).update(silent=False)
        if body.strip():
            if len(body) > MAX_WHISPER:
                raise ApplicationError("message_too_long", _("The message is too long."))
            message_create(conversation_id=conv.pk, sender_kind="supervisor", sender_user=actor, body=body.strip())
        audit_record(actor=actor, action="intervention.join", obj=conv)
    return p


def intervention_take_over(*, actor, conversation_id: int, agent_id: int | None = None) -> Conversation:
    """Take over (to self) or reassign (to another agent in reach), through dispatch's services.

    Nobody is given a conversation they cannot serve: a supervisor taking it over themselves is
    made visible as busy (serving, not receiving new ones) if they were invisible, away or
    offline; another agent must be online or busy with a free seat. Capacity always holds."""
    from apps.accounts.models import AgentStatus
    from apps.accounts.services import agent_set_status
    from apps.conversations import services as conv_services

    conv = conversation_get_for_supervisor(actor=actor, conversation_id=conversation_id)
    target = actor
    if agent_id and agent_id != actor.pk:
        target = User.objects.visible_to(actor).filter(pk=agent_id, is_active=True).first()
        if target is None or not target.is_agent_role:
            raise NotFound(_("Agent not found."))
    if not target.is_agent_role:
        raise ApplicationError("not_an_agent", _("Only agents and supervisors can serve conversations."))
    if conv.status not in ("queued", "active"):
        raise ApplicationError("cannot_take_over", _("This conversation cannot be taken over now."), status=409)
    if conv.assignee_id == target.pk:
        raise ApplicationError("already_assigned", _("This agent already serves the conversation."), status=409)
    if target.pk == actor.pk and target.status not in conv_services.SERVING_STATUSES:
        agent_set_status(agent=target, status=AgentStatus.BUSY, actor=actor, reason="take_over")
    can, code, why = conv_services.agent_can_serve(target)
    if not can:
        raise ApplicationError(code, why, status=409)
    previous = conv.assignee_id
    with transaction.atomic():
        if conv.status == "queued":
            conv_services.conversation_assign(
                conversation_id=conv.pk,
                agent_id=target.pk,
                actor=actor,
                reason="supervisor_takeover",
                require_online=False,
            )
        else:
            transfer = conv_services.conversation_transfer_request(
                conversation_id=conv.pk, actor=actor, to_agent_id=target.pk, note=_("Taken over by a supervisor")
            )
            conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=target)
        audit_record(
            actor=actor,
            action="intervention.take_over",
            obj=conv,
            changes={"from_agent": previous, "to_agent": target.pk},
        )
    return Conversation.objects.get(pk=conv.pk)


def intervention_hand_back(*, actor, conversation_id: int) -> Conversation:
    """A supervisor gives a conversation back to the queue (for the next free agent; the visitor
    is told and sees their place). Handing it to a named agent is `intervention_take_over`."""
    from apps.conversations import services as conv_services

    conv = conversation_get_for_supervisor(actor=actor, conversation_id=conversation_id)
    with transaction.atomic():
        done = conv_services.conversation_transfer_to_queue(conversation_id=conv.pk, actor=actor)
        audit_record(actor=actor, action="intervention.hand_back", obj=conv, changes={"from_agent": conv.assignee_id})
    return done
