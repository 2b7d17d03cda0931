"""Reads with access checks: which conversations an agent or a visitor may touch, and history."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.conversations import policy
from apps.conversations.models import Conversation
from apps.core.errors import NotFound
from apps.messaging.models import Message, Visibility

HISTORY_MAX_LIMIT = 200


def conversations_for_agent(*, user, level: str = policy.VIEW):
    """Staff: the access policy's conversations (apps.conversations.policy)."""
    return policy.conversations_for(user, level)


def conversation_get_for_agent(*, user, conversation_id, level: str = policy.VIEW) -> Conversation:
    return policy.check(user, conversation_id, level)


def conversations_for_visitor(*, visitor):
    """A visitor's own conversations: the customer's, in the tenant (history follows the customer)."""
    return Conversation.objects.filter(tenant_id=visitor.tenant_id, customer_id=visitor.customer_id)


def conversation_get_for_visitor(*, visitor, conversation_id) -> Conversation:
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise NotFound(_("Conversation not found."))
    conversation = conversations_for_visitor(visitor=visitor).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound(_("Conversation not found."))
    return conversation


def conversation_get_for_actor(*, actor, conversation_id, level: str = policy.VIEW) -> Conversation:
    if getattr(actor, "is_visitor", False):
        return conversation_get_for_visitor(visitor=actor, conversation_id=conversation_id)
    return conversation_get_for_agent(user=actor, conversation_id=conversation_id, level=level)


def message_history(
    *,
    conversation: Conversation,
    staff: bool,
    after_seq: int | None = None,
    before_seq: int | None = None,
    limit: int = 50,
) -> list[Message]:
    """Keyset page of a conversation's messages in ascending seq.

    after_seq: the messages right after it (resume, scrolling down); before_seq: the messages
    right before it (scrolling up); neither: the latest `limit`. Visitors never see staff-only rows.
    """
    limit = max(1, min(int(limit), HISTORY_MAX_LIMIT))
    qs = Message.objects.filter(conversation_id=conversation.pk).select_related("sender_user")
    if not staff:
        qs = qs.filter(visibility=Visibility.ALL)
    if after_seq is not None:
        return list(qs.filter(seq__gt=after_seq).order_by("seq")[:limit])
    if before_seq is not None:
        qs = qs.filter(seq__lt=before_seq)
    return list(reversed(qs.order_by("-seq")[:limit]))
