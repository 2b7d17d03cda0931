"""The wire shape of a conversation, shared by events and the REST API."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist

from apps.conversations.models import Conversation


def _sla(conversation: Conversation) -> dict | None:
    # The service-level clock (apps.sla, one row per conversation) when there is one: lists
    # select_related("sla"); elsewhere one lookup by primary key.
    try:
        return conversation.sla.wire()
    except ObjectDoesNotExist:
        return None


def conversation_to_dict(conversation: Conversation) -> dict:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "channel_id": conversation.channel_id,
        "customer_id": conversation.customer_id,
        "customer_name": str(conversation.customer) if conversation.customer_id else "",
        "branch_id": conversation.branch_id,
        "skill_group_id": conversation.skill_group_id,
        "assignee_id": conversation.assignee_id,
        "priority": conversation.priority,
        "last_seq": conversation.last_seq,
        "last_message_preview": conversation.last_message_preview,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "created_at": conversation.created_at.isoformat() if conversation.created_at else None,
        "queued_at": conversation.queued_at.isoformat() if conversation.queued_at else None,
        "assigned_at": conversation.assigned_at.isoformat() if conversation.assigned_at else None,
        "closed_at": conversation.closed_at.isoformat() if conversation.closed_at else None,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "remind_at": conversation.remind_at.isoformat() if conversation.remind_at else None,
        "first_response_at": conversation.first_response_at.isoformat() if conversation.first_response_at else None,
        "sla": _sla(conversation) if conversation.pk else None,
    }
