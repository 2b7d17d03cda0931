"""Removing personal content, one conversation batch or one customer at a time.

Used by retention (conversations closed long ago) and by erasure requests (everything about one
customer). Every step is an UPDATE or DELETE that can run again with the same result, so a
batch interrupted half-way is simply done again by the next run.

Where text about a conversation is kept besides its messages, it is listed here: the
conversation's preview and subject, event data, ratings' comments, transfer notes, leave-messages,
the bot's memory, captured facts, keyword-alert excerpts, missed questions, follow-up results,
tracking notifications, inbound platform payloads, recalled messages' originals, AI summaries and
reply suggestions (apps.assist), attachments and the search index. A test
(tests/privacy/test_erasure.py) searches every table for an erased customer's text, so a new
copy added elsewhere fails it until it is listed here.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.privacy.models import ErasedConversation

log = logging.getLogger(__name__)


def _delete_files(rows, *fields: str) -> None:
    for row in rows:
        for name in fields:
            field = getattr(row, name)
            if field:
                try:
                    field.delete(save=False)
                except OSError:  # already gone: the row is cleared all the same
                    log.warning("privacy: file of %s %s already missing", row._meta.label, row.pk)


def scrub_attachments(qs) -> int:
    """Delete the files and their names; messages that carried them keep only the kind."""
    from apps.messaging.models import Attachment, Message

    rows = list(qs.exclude(file="").only("pk", "file", "conversation_id"))
    _delete_files(rows, "file")
    ids = [r.pk for r in rows]
    if not ids:
        return 0
    Attachment.objects.filter(pk__in=ids).update(file="", original_name="")
    conv_ids = {r.conversation_id for r in rows if r.conversation_id}
    for message in Message.objects.filter(conversation_id__in=conv_ids, payload__attachment__id__in=ids).only(
        "pk", "payload"
    ):
        Message.objects.filter(pk=message.pk).update(payload={"attachment": {"id": None, "expired": True}})
    return len(ids)


def scrub_conversations(*, tenant_id: int, conversation_ids: list[int], reason: str, delete_messages: bool) -> int:
    """Remove the content of these conversations everywhere, keeping the rows figures count.

    Conversations, events (without free text), ratings (score only) and — unless
    `delete_messages` — message rows (empty, marked) stay, so reports keep their counts."""
    from apps.assist.models import ConversationSummary, ReplySuggestion
    from apps.channels.models import InboundMessage
    from apps.conversations.models import Conversation, ConversationEvent, Rating, Transfer
    from apps.knowledge.models import CapturedSlot, ConversationBotState, KeywordAlert, MissedQuestion
    from apps.messaging.models import Attachment, Message, MessageRecall
    from apps.reports.models import FollowUpTask, TrackingNotification
    from apps.routing.models import LeaveMessage
    from apps.search.models import SearchTerm

    ids = list(conversation_ids)
    if not ids:
        return 0
    now = timezone.now()
    with transaction.atomic():
        message_ids = list(Message.objects.filter(conversation_id__in=ids).values_list("pk", flat=True))
        scrub_attachments(Attachment.objects.filter(tenant_id=tenant_id, conversation_id__in=ids))
        if delete_messages:
            Message.objects.filter(conversation_id__in=ids).delete()
        else:
            Message.objects.filter(conversation_id__in=ids).exclude(body="", payload={"erased": reason}).update(
                body="", payload={"erased": reason}
            )
        # Recalled messages' originals (kept for supervisors) go with the messages.
        MessageRecall.objects.filter(conversation_id__in=ids).exclude(body="", payload={}).update(body="", payload={})
        Conversation.objects.filter(pk__in=ids).update(last_message_preview="", subject="")
        for event in ConversationEvent.objects.filter(conversation_id__in=ids).exclude(data={}).only("pk", "data"):
            kept = {k: v for k, v in event.data.items() if not isinstance(v, str)}
            if kept != event.data:
                ConversationEvent.objects.filter(pk=event.pk).update(data=kept)
        Rating.objects.filter(conversation_id__in=ids).exclude(comment="").update(comment="")
        Transfer.objects.filter(conversation_id__in=ids).exclude(note="").update(note="")
        LeaveMessage.objects.filter(conversation_id__in=ids).update(name="", contact="", content="")
        ConversationBotState.objects.filter(conversation_id__in=ids).update(
            asked_slots=[], handoff_detail="", left_message=""
        )
        CapturedSlot.objects.filter(conversation_id__in=ids).delete()
        KeywordAlert.objects.filter(conversation_id__in=ids).exclude(excerpt="").update(excerpt="")
        MissedQuestion.objects.filter(conversation_id__in=ids).delete()
        FollowUpTask.objects.filter(conversation_id__in=ids).exclude(result="", note="").update(result="", note="")
        TrackingNotification.objects.filter(conversation_id__in=ids).exclude(text="").update(text="")
        ConversationSummary.objects.filter(conversation_id__in=ids).exclude(text="").update(text="")
        ReplySuggestion.objects.filter(conversation_id__in=ids).delete()
        InboundMessage.objects.filter(Q(conversation_id__in=ids) | Q(message_id__in=message_ids)).update(
            payload={}, sender_id=""
        )
        # The database index: the conversations have no text left, so no term either.
        SearchTerm.objects.filter(tenant_id=tenant_id, conversation_id__in=ids).delete()
        ErasedConversation.objects.bulk_create(
            [
                ErasedConversation(
                    tenant_id=tenant_id,
                    conversation_id=i,
                    reason=reason,
                    messages_deleted=delete_messages,
                    erased_at=now,
                )
                for i in ids
            ],
            ignore_conflicts=True,
        )
        if message_ids:
            transaction.on_commit(lambda: _forget_in_search_index(message_ids))
    return len(ids)


def _forget_in_search_index(message_ids: list[int]) -> None:
    """An external index (Elasticsearch) drops the messages after commit, through Celery."""
    from apps.privacy.tasks import search_forget_task

    search_forget_task.delay(message_ids)
