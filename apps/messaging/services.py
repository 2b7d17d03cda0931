"""Writing messages: gap-free seq, idempotent on the sender's client message id, published
only after commit."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError
from apps.messaging import hooks
from apps.messaging.groups import conversation_group
from apps.messaging.models import ContentType, Message, SenderKind, Visibility
from apps.messaging.publish import publish
from apps.messaging.serializers import message_to_dict

MAX_BODY_CHARS = 5000
STAFF_KINDS = {SenderKind.AGENT, SenderKind.SUPERVISOR, SenderKind.SALESPERSON}


def _preview(content_type: str, body: str) -> str:
    if content_type == ContentType.IMAGE:
        return "[图片]"
    if content_type == ContentType.FILE:
        return "[文件]"
    return body[:200]


def message_create(
    *,
    conversation_id: int,
    sender_kind: str,
    body: str = "",
    content_type: str = ContentType.TEXT,
    payload: dict | None = None,
    client_msg_id: str | None = None,
    sender_user=None,
    visibility: str = Visibility.ALL,
    allow_closed: bool = False,
) -> Message:
    """Create a message, or return the one already created with the same client_msg_id.

    The returned message has `created_now` True only when this call wrote it.
    """
    if len(body) > MAX_BODY_CHARS:
        raise ApplicationError(
            "message_too_long", _("A message can be at most %(n)d characters.") % {"n": MAX_BODY_CHARS}
        )
    if content_type == ContentType.TEXT and not body.strip():
        raise ApplicationError("empty_message", _("The message is empty."))
    if client_msg_id is not None and not (1 <= len(client_msg_id) <= 64):
        raise ApplicationError("invalid_client_msg_id", _("client_msg_id must be 1 to 64 characters."))
    try:
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
            if client_msg_id:
                existing = Message.objects.filter(conversation_id=conversation.pk, client_msg_id=client_msg_id).first()
                if existing is not None:
                    existing.created_now = False
                    return existing
            if not conversation.is_open and not allow_closed:
                raise ApplicationError("conversation_closed", _("This conversation has ended."), status=409)
            now = timezone.now()
            seq = conversation.last_seq + 1
            message = Message.objects.create(
                tenant_id=conversation.tenant_id,
                conversation=conversation,
                seq=seq,
                client_msg_id=client_msg_id or None,
                sender_kind=sender_kind,
                sender_user=sender_user,
                content_type=content_type,
                body=body,
                payload=payload or {},
                visibility=visibility,
            )
            update = {"last_seq": seq}
            if visibility == Visibility.ALL:
                update["last_message_at"] = now
                update["last_message_preview"] = _preview(content_type, body)
                if sender_kind == SenderKind.VISITOR:
                    update["last_visitor_message_at"] = now
                elif sender_kind in STAFF_KINDS:
                    update["last_agent_message_at"] = now
                    if conversation.first_response_at is None and conversation.assigned_at is not None:
                        update["first_response_at"] = now
            Conversation.objects.filter(pk=conversation.pk).update(**update)
            for field, value in update.items():
                setattr(conversation, field, value)
            hooks.run_message_created(conversation=conversation, message=message)
            publish(
                conversation_group(conversation.tenant_id, conversation.pk),
                {"type": "message.created", "conversation_id": conversation.pk, "message": message_to_dict(message)},
            )
            message.created_now = True
            return message
    except IntegrityError:
        # Two sends of one client_msg_id raced past the check on different connections: the
        # row lock makes this nearly impossible, the unique constraint makes it harmless.
        if client_msg_id:
            existing = Message.objects.filter(conversation_id=conversation_id, client_msg_id=client_msg_id).first()
            if existing is not None:
                existing.created_now = False
                return existing
        raise


def read_mark(*, conversation: Conversation, seq: int, reader_kind: str, user=None) -> int:
    """Move the reader's read mark forward to `seq` (never back) and tell the conversation.

    reader_kind is "visitor" or a staff participant kind; staff readers get a participant row
    on their first read mark. Returns the reader's read mark after the call.
    """
    from apps.conversations.models import Participant

    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise ApplicationError("invalid_frame", _("seq must be an integer."))
    if seq < 0 or seq > conversation.last_seq:
        raise ApplicationError("invalid_seq", _("seq is beyond the last message of the conversation."))
    with transaction.atomic():
        lookup = {"conversation_id": conversation.pk, "kind": reader_kind, "user": user}
        moved = Participant.objects.filter(**lookup, last_read_seq__lt=seq).update(last_read_seq=seq)
        if not moved:
            participant, created = Participant.objects.get_or_create(
                **lookup,
                defaults={
                    "tenant_id": conversation.tenant_id,
                    "last_read_seq": seq,
                    "silent": reader_kind != SenderKind.VISITOR
                    and user is not None
                    and conversation.assignee_id != user.pk,
                },
            )
            if not created:
                return participant.last_read_seq
        publish(
            conversation_group(conversation.tenant_id, conversation.pk),
            {
                "type": "read",
                "conversation_id": conversation.pk,
                "reader_kind": reader_kind,
                "reader_id": getattr(user, "pk", None),
                "seq": seq,
            },
        )
    return seq


def typing_notify(*, conversation: Conversation, sender_kind: str, sender_name: str, is_typing: bool) -> None:
    """A typing indicator: nothing is stored, the conversation's connections are told."""
    publish(
        conversation_group(conversation.tenant_id, conversation.pk),
        {
            "type": "typing",
            "conversation_id": conversation.pk,
            "sender_kind": sender_kind,
            "sender_name": sender_name,
            "is_typing": bool(is_typing),
        },
    )


def staff_sender_kind(user) -> str:
    """How a staff member's messages are labelled: agents as agents, managers as supervisors."""
    return SenderKind.AGENT if user.role == "agent" else SenderKind.SUPERVISOR


def visitor_session_create(
    *, channel_key: str, origin: str | None, visitor_id: str | None = None, identity: dict | None = None
) -> dict:
    """Authenticate a widget/app visitor on a channel: resolve the customer, issue a visitor token.

    Web channels only answer pages on the channel's allowed origins.
    """
    from apps.channels.models import Channel
    from apps.customers.services import customer_resolve_visitor
    from apps.messaging.visitor import visitor_token_issue

    channel = Channel.objects.select_related("tenant").filter(key=channel_key).first()
    if channel is None or not channel.tenant.is_active:
        raise ApplicationError("not_found", _("Unknown channel."), status=404)
    if not channel.is_enabled:
        raise ApplicationError("channel_disabled", _("This channel is not accepting conversations."), status=403)
    if (channel.kind == "web" or origin) and not channel.origin_allowed(origin):
        raise ApplicationError("origin_not_allowed", _("This site may not open the chat."), status=403)
    with transaction.atomic():
        customer, visitor_id = customer_resolve_visitor(tenant=channel.tenant, visitor_id=visitor_id, identity=identity)
    token, expires_at = visitor_token_issue(tenant_id=channel.tenant_id, channel_id=channel.pk, customer_id=customer.pk)
    return {
        "channel": channel,
        "customer": customer,
        "visitor_id": visitor_id,
        "token": token,
        "expires_at": expires_at,
    }
