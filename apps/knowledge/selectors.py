"""Reads of the knowledge base, with access checks."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _

from apps.conversations import policy
from apps.conversations.models import Conversation
from apps.knowledge.index import get_index, scope_filter
from apps.knowledge.providers import AskContext, provider_for
from apps.knowledge.services import bot_settings_get
from apps.messaging.models import Message, SenderKind, Visibility


def conversation_for_actor(*, actor, conversation_id: int, level: str = policy.VIEW) -> Conversation:
    """Through the access policy: outside the actor's reach is the same 404 as a missing id."""
    return policy.check(actor, conversation_id, level)


def _branch_path(branch_id):
    if branch_id is None:
        return None
    from apps.accounts.models import Branch

    return Branch.objects.filter(pk=branch_id).values_list("path", flat=True).first()


def kb_suggest(*, channel_key: str, text: str, limit: int | None = None) -> list[dict]:
    """Hot path: one query for the channel, one for the index version, then in-memory ranking."""
    from apps.channels.models import Channel

    row = (
        Channel.objects.filter(key=channel_key, is_enabled=True).values_list("pk", "tenant_id", "branch__path").first()
    )
    if row is None:
        raise Http404(_("Not found."))
    channel_id, tenant_id, branch_path = row
    if not text:
        return []
    index = get_index(tenant_id)
    matches = index.search(text, k=limit or 5, allow=scope_filter(channel_id=channel_id, branch_path=branch_path))
    return [
        {"entry_id": m.entry_id, "question": m.question, "category": m.category, "confidence": m.confidence}
        for m in matches
    ]


def kb_search(*, actor, text: str, k: int = 10) -> list[dict]:
    if not actor.tenant_id:
        return []
    from apps.knowledge.models import FaqEntry

    matches = get_index(actor.tenant_id).search(text, k=k)
    rows = FaqEntry.objects.in_bulk([m.entry_id for m in matches])
    return [
        {
            "entry_id": m.entry_id,
            "question": m.question,
            "answer": rows[m.entry_id].answer,
            "category": m.category,
            "confidence": m.confidence,
        }
        for m in matches
        if m.entry_id in rows
    ]


def kb_assist(*, actor, conversation_id: int, k: int = 3) -> dict:
    """F54: the bot's best answers for the latest visitor message of a conversation the actor can see."""
    from apps.channels.models import Channel

    conversation = conversation_for_actor(actor=actor, conversation_id=conversation_id)
    message = (
        Message.objects.filter(
            conversation_id=conversation.pk, sender_kind=SenderKind.VISITOR, visibility=Visibility.ALL
        )
        .exclude(body="")
        .order_by("-seq")
        .first()
    )
    if message is None:
        return {"conversation_id": conversation.pk, "message": None, "suggestions": []}
    channel = Channel.objects.filter(pk=conversation.channel_id).values_list("pk", "branch_id").first()
    settings = bot_settings_get(tenant_id=conversation.tenant_id)
    context = AskContext(
        tenant_id=conversation.tenant_id,
        channel_id=channel[0] if channel else None,
        branch_path=_branch_path(channel[1]) if channel else None,
        conversation_id=conversation.pk,
    )
    answers = provider_for(settings).answer(text=message.body, context=context, k=k)
    return {
        "conversation_id": conversation.pk,
        "message": {"id": message.pk, "seq": message.seq, "body": message.body},
        "suggestions": [a.as_dict() for a in answers],
    }
