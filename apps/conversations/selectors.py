"""Reads of conversations with access checks."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import Conversation, ConversationStatus, ConversationTag, Transfer, TransferStatus
from apps.core.errors import ApplicationError


def conversation_get_for_actor(*, actor, conversation_id: int) -> Conversation:
    conversation = Conversation.objects.visible_to(actor).filter(pk=conversation_id).first()
    if conversation is None:
        raise ApplicationError("not_found", _("Conversation not found."), status=404)
    return conversation


def conversations_mine(*, actor) -> QuerySet:
    return (
        Conversation.objects.visible_to(actor)
        .filter(assignee_id=actor.pk)
        .exclude(status=ConversationStatus.CLOSED)
        .select_related("customer")
        .order_by("-assigned_at")
    )


def queue_visible_to(*, actor) -> QuerySet:
    """F13: the unified queue (every channel) as the actor may see it, in dispatch order."""
    return (
        Conversation.objects.visible_to(actor)
        .filter(status=ConversationStatus.QUEUED)
        .select_related("customer")
        .order_by("-priority", "queued_at", "id")
    )


def transfers_incoming(*, actor) -> QuerySet:
    from django.db.models import Q

    group_ids = list(actor.skill_groups.values_list("pk", flat=True))
    return (
        Transfer.objects.filter(tenant_id=actor.tenant_id, status=TransferStatus.PENDING)
        .filter(Q(to_agent_id=actor.pk) | Q(to_skill_group_id__in=group_ids))
        .exclude(from_agent_id=actor.pk)
        .select_related("conversation")
    )


def tags_for(*, actor) -> QuerySet:
    return ConversationTag.objects.visible_to(actor).filter(is_enabled=True)
