"""Conversation intake: start -> route -> assign, one service, owned by dispatch.

Every entry point that opens a conversation for a visitor calls `conversation_intake`: the
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

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationStatus
from apps.core.errors import ApplicationError
from apps.routing import services


def conversation_intake(*, channel, customer, subject: str = "", priority: int = 0, actor=None) -> Conversation:
    """Open (or find) the visitor's conversation on `channel`, routed and, if an agent has room,
    assigned. The result has `created_now` True when this call opened it."""
    if not channel.is_enabled:
        raise ApplicationError("channel_disabled", _("This channel is not accepting conversations."), status=403)
    existing = _open_for(channel, customer)
    if existing is not None:
        return existing
    status = ConversationStatus.BOT if channel.bot_enabled else ConversationStatus.QUEUED
    if status == ConversationStatus.QUEUED:
        services.intake_check(channel=channel, customer=customer, status=status)
    with transaction.atomic():
        opened = conv_services.conversation_open(
            channel=channel, customer=customer, status=status, subject=subject, priority=priority, actor=actor
        )
        if opened is None:  # another tab opened it at the same moment: use that one
            return _open_for(channel, customer)
        conversation, created = opened
        if status == ConversationStatus.QUEUED:
            services.route_conversation(conversation=conversation, text=subject)
            conv_services.conversation_attribute_routed(event=created, conversation=conversation)
    conversation.created_now = True
    if status != ConversationStatus.QUEUED:
        return conversation
    if transaction.get_connection().in_atomic_block:
        conversation_id = conversation.pk
        transaction.on_commit(lambda: services.dispatch_conversation(conversation_id=conversation_id))
        return conversation
    dispatched = services.dispatch_conversation(conversation_id=conversation.pk, conversation=conversation)
    dispatched = dispatched or conversation
    dispatched.created_now = True
    return dispatched


def _open_for(channel, customer) -> Conversation | None:
    existing = Conversation.objects.filter(open_key=Conversation.make_open_key(channel.pk, customer.pk)).first()
    if existing is not None:
        existing.created_now = False
    return existing
