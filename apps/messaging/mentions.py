"""@mentions in internal notes: the mentioned colleague is told live (workbench and desktop
notification, with a link), may view the conversation from then on (an active participant row,
the grant the access policy counts), and the mention is audited.

Processed after the note commits (a Celery task per batch, safe to run twice: one Mention per note
and person). Names are matched as "@" + the colleague's display name or username, longest first,
so "@王小明" is not read as "@王小".
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.services import audit_record
from apps.messaging import hooks
from apps.messaging.groups import agent_group
from apps.messaging.models import ContentType, Mention, Message, Visibility
from apps.messaging.publish import publish

MAX_MENTIONS = 10


def _candidates(tenant_id: int, author_id: int | None) -> list[tuple[str, Any]]:
    from apps.accounts.models import Role, User

    people = User.objects.filter(
        tenant_id=tenant_id, is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR, Role.SUPER_ADMIN]
    ).exclude(pk=author_id)
    names: list[tuple[str, Any]] = []
    for u in people[:2000]:
        for n in {u.name, u.username}:
            if n:
                names.append((n, u))
    names.sort(key=lambda pair: -len(pair[0]))
    return names


def mentioned_in(body: str, *, tenant_id: int, author_id: int | None) -> list:
    """The colleagues a note mentions, in order of first appearance (at most MAX_MENTIONS)."""
    if "@" not in body:
        return []
    found: dict[int, tuple[int, Any]] = {}
    taken: list[tuple[int, int]] = []  # spans already matched by a longer name
    for name, user in _candidates(tenant_id, author_id):
        needle = "@" + name
        start = body.find(needle)
        while start >= 0:
            end = start + len(needle)
            if not any(a <= start < b for a, b in taken):
                taken.append((start, end))
                if user.pk not in found or start < found[user.pk][0]:
                    found[user.pk] = (start, user)
            start = body.find(needle, end)
    return [u for _pos, u in sorted(found.values(), key=lambda pair: pair[0])][:MAX_MENTIONS]


def mention_to_dict(m: Mention) -> dict:
    message = m.message
    return {
        "id": m.pk,
        "conversation_id": m.conversation_id,
        "message_id": m.message_id,
        "seq": message.seq,
        "author_name": m.author.name if m.author_id and m.author else "",
        "excerpt": message.body[:200],
        "created_at": m.created_at.isoformat(),
        "read_at": m.read_at.isoformat() if m.read_at else None,
    }


def mentions_process(*, message_id: int) -> list[Mention]:
    """Create the note's mentions, grant each colleague a view of the conversation and tell them."""
    from apps.conversations.models import Participant
    from apps.messaging.services import staff_sender_kind

    message = (
        Message.objects.select_related("sender_user", "conversation")
        .filter(pk=message_id, visibility=Visibility.STAFF, content_type=ContentType.TEXT)
        .first()
    )
    if message is None or message.sender_user is None or message.recalled_at is not None:
        return []
    conv = message.conversation
    created = []
    for user in mentioned_in(message.body, tenant_id=message.tenant_id, author_id=message.sender_user_id):
        try:
            with transaction.atomic():
                mention = Mention.objects.create(
                    tenant_id=message.tenant_id,
                    message=message,
                    conversation=conv,
                    user=user,
                    author=message.sender_user,
                )
                participant, new = Participant.objects.get_or_create(
                    conversation=conv,
                    kind=staff_sender_kind(user),
                    user=user,
                    defaults={"tenant_id": conv.tenant_id, "silent": True},
                )
                if not new and participant.left_at is not None:
                    Participant.objects.filter(pk=participant.pk).update(left_at=None)
                audit_record(
                    actor=message.sender_user,
                    action="conversation.mention",
                    obj=conv,
                    changes={"mentioned": user.pk, "message": message.pk},
                )
                publish(
                    agent_group(conv.tenant_id, user.pk),
                    {"type": "mention.created", "conversation_id": conv.pk, "mention": mention_to_dict(mention)},
                )
        except IntegrityError:  # a redelivered task: this one is done already
            continue
        created.append(mention)
    return created


def mentions_unread_for(*, user) -> list[Mention]:
    return list(
        Mention.objects.filter(tenant_id=user.tenant_id, user=user, read_at__isnull=True)
        .select_related("message", "author")
        .order_by("-created_at")[:50]
    )


def mention_mark_read(*, user, mention_id: int) -> int:
    return Mention.objects.filter(pk=mention_id, user=user, tenant_id=user.tenant_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )


@hooks.on_messages_committed
def _notes_with_mentions(*, messages) -> None:
    ids = [
        m.pk
        for m in messages
        if m.visibility == Visibility.STAFF and m.content_type == ContentType.TEXT and "@" in m.body
    ]
    if ids:
        from apps.messaging.tasks import mentions_task

        mentions_task.delay(ids)
