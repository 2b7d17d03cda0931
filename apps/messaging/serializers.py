"""The one wire shape of a message, shared by websocket frames, REST and events."""

from __future__ import annotations

from apps.messaging.attachments import payload_with_signed_urls
from apps.messaging.models import Message


def message_to_dict(message: Message) -> dict:
    sender_name = ""
    if message.sender_user_id is not None and message.sender_user is not None:
        sender_name = message.sender_user.name
    data = {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "client_msg_id": message.client_msg_id,
        "sender_kind": message.sender_kind,
        "sender_id": message.sender_user_id,
        "sender_name": sender_name,
        "content_type": message.content_type,
        "body": message.body,
        # Attachment links are signed per render: a private file is opened by whoever was sent the frame.
        "payload": payload_with_signed_urls(message.payload),
        "visibility": message.visibility,
        "created_at": message.created_at.isoformat(),
    }
    if message.recalled_at is not None:  # emptied; clients show "消息已撤回" (apps.messaging.recall)
        data["recalled_at"] = message.recalled_at.isoformat()
    return data
