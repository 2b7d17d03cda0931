"""Conversation lifecycle writes. Dispatch (apps.routing) extends this through hooks."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations import hooks
from apps.conversations.models import Conversation, ConversationEvent, ConversationStatus, Participant, ParticipantKind
from apps.core.errors import ApplicationError


def conversation_event_record(*, conversation: Conversation, kind: str, from_status: str = "", to_status: str = "",
                              actor=None, agent=None, reason: str = "", data: dict | None = None) -> ConversationEvent:
    return ConversationEvent.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor if getattr(actor, "pk", None) else None,
        agent=agent,
        branch_id=conversation.branch_id,
        reason=reason,
        data=data or {},
    )


def conversation_start(*, channel, customer, subject: str = "", priority: int = 0, actor=None) -> Conversation:
    """Open a conversation for a visitor on a channel, or return the one already open there.

    At most one open conversation per visitor per channel (enforced by the unique open_key).
    A new conversation starts with the bot when the channel has it, otherwise queued; the
    dispatch layer, through hooks, routes it and may assign it at once.
    """
    if not channel.is_enabled:
        raise ApplicationError("channel_disabled", _("This channel is not accepting conversations."), status=403)
    open_key = Conversation.make_open_key(channel.pk, customer.pk)
    existing = Conversation.objects.filter(open_key=open_key).first()
    if existing is not None:
        existing.created_now = False
        return existing
    now = timezone.now()
    status = ConversationStatus.BOT if channel.bot_enabled else ConversationStatus.QUEUED
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
            Participant.objects.create(tenant_id=channel.tenant_id, conversation=conversation, kind=ParticipantKind.VISITOR)
            conversation_event_record(conversation=conversation, kind="created", to_status=status, actor=actor)
            hooks.run_conversation_started(conversation=conversation, actor=actor)
    except IntegrityError:
        # A second tab of the same visitor opened it at the same moment: use that one.
        existing = Conversation.objects.filter(open_key=open_key).first()
        if existing is None:
            raise
        existing.created_now = False
        return existing
    conversation.created_now = True
    return conversation
