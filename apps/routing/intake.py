"""Conversation intake: start -> route -> assign, one service, owned by dispatch.

Every entry point that opens a conversation for a visitor calls `conversation_intake` (or
`conversation_intake_result`, which also says whether this call opened it): the
widget's websocket (`start` frame) and REST start, the app SDK (same endpoints), WeChat official
accounts, WeChat Customer Service, mini-programs and the partner API (channels' inbound
processing), the bench's data preparation. It

1. returns the conversation already open for this visitor on this channel, if any;
2. gates a conversation that would queue (rate-limit switch, working hours, queue cap: refused
   before anything is written; a bot-first conversation is gated at hand-off instead);
3. writes it (`apps.conversations.services.conversation_open`) and routes it (rule -> target ->
   overflow) in one transaction;
4. after the commit, assigns it to an agent with room if there is one (`dispatch_conversation`)
   and returns its state then: the caller needs no second read. Inside a caller's transaction
   (inbound WeChat processing) the assignment runs when that transaction commits.

Conversations (the lower layer) no longer calls back up into dispatch to start a conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationStatus
from apps.core.errors import ApplicationError
from apps.routing import services


@dataclass(frozen=True)
class Intake:
    conversation: Conversation
    created: bool  # this call opened it (else it was already open)


def conversation_intake(*, channel, customer, subject: str = "", priority: int = 0, actor=None) -> Conversation:
    """The visitor's conversation on `channel` (see conversation_intake_result), for callers that
    do not ask whether it is new."""
    return conversation_intake_result(
        channel=channel, customer=customer, subject=subject, priority=priority, actor=actor
    ).conversation


def conversation_intake_result(*, channel, customer, subject: str = "", priority: int = 0, actor=None) -> Intake:
    """Open (or find) the visitor's conversation on `channel`, routed and, if an agent has room,
    assigned."""
    if not channel.is_enabled:
        raise ApplicationError("channel_disabled", _("This channel is not accepting conversations."), status=403)
    existing = _open_for(channel, customer)
    if existing is not None:
        return Intake(existing, created=False)
    status = ConversationStatus.BOT if channel.bot_enabled else ConversationStatus.QUEUED
    if status == ConversationStatus.QUEUED:
        services.intake_check(channel=channel, customer=customer, status=status)
    with transaction.atomic():
        opened = conv_services.conversation_open(
            channel=channel, customer=customer, status=status, subject=subject, priority=priority, actor=actor
        )
        if opened is None:  # another tab opened it at the same moment: use that one
            existing = _open_for(channel, customer)
            if existing is not None:
                return Intake(existing, created=False)
            opened_meanwhile_and_closed = True
        else:
            opened_meanwhile_and_closed = False
            conversation, created = opened
            if status == ConversationStatus.QUEUED:
                services.route_conversation(conversation=conversation, text=subject)
                conv_services.conversation_attribute_routed(event=created, conversation=conversation)
    if opened_meanwhile_and_closed:  # ... and closed already: open a new one
        return conversation_intake_result(
            channel=channel, customer=customer, subject=subject, priority=priority, actor=actor
        )
    if status != ConversationStatus.QUEUED:
        return Intake(conversation, created=True)
    if transaction.get_connection().in_atomic_block:
        conversation_id = conversation.pk
        transaction.on_commit(lambda: services.dispatch_conversation(conversation_id=conversation_id))
        return Intake(conversation, created=True)
    dispatched = services.dispatch_conversation(conversation_id=conversation.pk, conversation=conversation)
    return Intake(dispatched or conversation, created=True)


def _open_for(channel, customer) -> Conversation | None:
    return Conversation.objects.filter(open_key=Conversation.make_open_key(channel.pk, customer.pk)).first()
