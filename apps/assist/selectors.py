"""Reads of apps.assist, scoped through the conversation access policy."""

from __future__ import annotations

from apps.assist.models import AssistSettings, ConversationSummary, ReplySuggestion
from apps.conversations import policy

MAX_SUMMARIES = 20


def assist_settings_read(*, tenant_id: int) -> AssistSettings | None:
    return AssistSettings.objects.filter(tenant_id=tenant_id).first()


def summaries_for_conversation(*, conversation) -> list[ConversationSummary]:
    """Newest first (the caller checked VIEW on the conversation)."""
    return list(ConversationSummary.objects.filter(conversation_id=conversation.pk).order_by("-id")[:MAX_SUMMARIES])


def suggestion_get(*, actor, suggestion_id: int) -> ReplySuggestion:
    """One request for suggestions, for the agent who made it while they may still see the
    conversation (anything else: the 404 of a missing id)."""
    row = ReplySuggestion.objects.visible_to(actor).filter(pk=suggestion_id, requested_by_id=actor.pk).first()
    if row is None:
        raise policy.not_found()
    return row
