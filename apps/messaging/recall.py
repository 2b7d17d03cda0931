"""Recalling a message (撤回): staff take back their own message within the tenant's window.

The message row keeps its seq and is emptied (body, payload) with `recalled_at` set, so history
and replay show "消息已撤回" in its place; the original goes to MessageRecall for supervisors, and
the audit log records it. The recall itself is a message of its own (content type `event`, payload
`{"code": "message_recalled", "message_id", "seq"}`) with the next seq of the conversation: live
clients apply it when it arrives, and a client that reconnects gets it by seq like any message.
Platforms that have already delivered the text (WeChat and the other official platforms) cannot
take it back: the workbench tells the agent so before sending, and the recall answers
`platform_recalled: false` for them.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record
from apps.messaging.models import ContentType, Message, MessageRecall, RecallSettings, SenderKind, Visibility

RECALL_CODE = "message_recalled"
DEFAULT_WINDOW_SECONDS = 120
# Channel kinds whose platform has the message already and offers no recall to us.
PLATFORM_KEEPS_KINDS = frozenset({"wechat", "wecom", "miniprogram"})
RECALLABLE_TYPES = (ContentType.TEXT, ContentType.IMAGE, ContentType.FILE)


def recall_window_seconds(*, tenant_id: int) -> int:
    row = RecallSettings.objects.filter(tenant_id=tenant_id).values_list("window_seconds", flat=True).first()
    return DEFAULT_WINDOW_SECONDS if row is None else int(row)


def platform_keeps_messages(channel_kind: str) -> bool:
    return channel_kind in PLATFORM_KEEPS_KINDS


def recall_settings_save(*, actor, tenant_id: int, window_seconds: int) -> RecallSettings:
    if not 0 <= int(window_seconds) <= 24 * 3600:
        raise ApplicationError("invalid", _("The recall window must be between 0 seconds and one day."))
    with transaction.atomic():
        row, _created = RecallSettings.objects.select_for_update().get_or_create(tenant_id=tenant_id)
        old = row.window_seconds
        row.window_seconds = int(window_seconds)
        row.save()
        audit_record(
            actor=actor, action="recall.settings", obj=row, changes={"window_seconds": [old, row.window_seconds]}
        )
    return row


def message_recall(*, actor, conversation: Conversation, message_id: int, now: dt.datetime | None = None) -> Message:
    """Recall `message_id` of `conversation` (already checked visible to `actor`) for everyone.

    Only its sender, within the tenant's window, a text, image or file message not recalled yet.
    Recalling again returns the same message (idempotent). Returns the emptied message with
    `notice` (the recall's own message) attached."""
    from apps.messaging.services import message_create

    now = now or timezone.now()
    window = recall_window_seconds(tenant_id=conversation.tenant_id)
    with transaction.atomic():
        # The conversation row first, as every send does (messages_create locks it again: held).
        Conversation.objects.select_for_update().filter(pk=conversation.pk).values_list("pk").first()
        message = (
            Message.objects.select_for_update()
            .filter(pk=message_id, conversation_id=conversation.pk, tenant_id=conversation.tenant_id)
            .first()
        )
        if message is None:
            raise NotFound(_("Message not found."))
        if message.sender_user_id != actor.pk or message.sender_kind not in (
            SenderKind.AGENT,
            SenderKind.SUPERVISOR,
            SenderKind.SALESPERSON,
        ):
            raise ApplicationError("recall_not_sender", _("Only the sender can recall a message."), status=403)
        if message.recalled_at is not None:
            existing = MessageRecall.objects.filter(message=message).first()
            notice_seq = existing.notice_seq if existing else -1
            notice = Message.objects.filter(conversation_id=conversation.pk, seq=notice_seq).first()
            setattr(message, "notice", notice)  # noqa: B010 - the caller renders it with the message
            return message
        if message.content_type not in RECALLABLE_TYPES:
            raise ApplicationError("recall_not_allowed", _("This message cannot be recalled."), status=409)
        if window <= 0 or now - message.created_at > dt.timedelta(seconds=window):
            minutes = max(1, round(window / 60)) if window > 0 else 0
            raise ApplicationError(
                "recall_too_late",
                _("Messages can be recalled within %(n)d minutes of sending.") % {"n": minutes}
                if window > 0
                else _("Recalling messages is turned off."),
                status=409,
            )
        notice = message_create(
            conversation_id=conversation.pk,
            sender_kind=SenderKind.SYSTEM,
            content_type=ContentType.EVENT,
            body=str(_("A message was recalled.")),
            payload={"code": RECALL_CODE, "message_id": message.pk, "seq": message.seq},
            client_msg_id=f"recall:{message.pk}",
            visibility=message.visibility,
        )
        MessageRecall.objects.create(
            tenant_id=conversation.tenant_id,
            message=message,
            conversation_id=conversation.pk,
            recalled_by=actor,
            recalled_at=now,
            notice_seq=notice.seq,
            content_type=message.content_type,
            body=message.body,
            payload=message.payload,
        )
        Message.objects.filter(pk=message.pk).update(body="", payload={}, recalled_at=now)
        message.body, message.payload, message.recalled_at = "", {}, now
        # The list's preview must not keep the recalled text.
        later = Message.objects.filter(
            conversation_id=conversation.pk, seq__gt=message.seq, visibility=Visibility.ALL
        ).exclude(sender_kind=SenderKind.SYSTEM)
        if message.visibility == Visibility.ALL and not later.exists():
            Conversation.objects.filter(pk=conversation.pk).update(last_message_preview=str(_("[Recalled]")))
        audit_record(
            actor=actor,
            action="message.recall",
            obj=message,
            changes={"conversation": conversation.pk, "seq": message.seq, "notice_seq": notice.seq},
        )
        message_ids = [message.pk]
        transaction.on_commit(lambda: _forget_in_search_index(message_ids))
    setattr(message, "notice", notice)  # noqa: B010 - the caller renders it with the message
    return message


def _forget_in_search_index(message_ids: list[int]) -> None:
    from apps.privacy.tasks import search_forget_task

    search_forget_task.delay(message_ids)


def recalls_for_supervisor(*, actor, conversation: Conversation) -> list[MessageRecall]:
    """The originals of a conversation's recalled messages: supervisors and admins only (the
    conversation already checked visible to them)."""
    if not actor.is_manager:
        raise ApplicationError("forbidden", _("Only supervisors can see recalled messages."), status=403)
    return list(
        MessageRecall.objects.filter(conversation_id=conversation.pk, tenant_id=conversation.tenant_id)
        .select_related("recalled_by", "message")
        .order_by("recalled_at")
    )


def recall_to_dict(row: MessageRecall) -> dict:
    return {
        "message_id": row.message_id,
        "seq": row.message.seq,
        "notice_seq": row.notice_seq,
        "recalled_by": row.recalled_by.name if row.recalled_by_id and row.recalled_by else "",
        "recalled_at": row.recalled_at.isoformat(),
        "content_type": row.content_type,
        "body": row.body,
        "payload": row.payload,
    }
