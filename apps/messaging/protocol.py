"""Wire-level constants of the websocket protocol (documented in docs/protocol.md)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

PROTOCOL_VERSION = 1
HEARTBEAT_SECONDS = 30
# A resume further back than this is answered with "resync": fetch history over REST instead.
RESYNC_LIMIT = 1000
REPLAY_PAGE = 200


def max_frame_bytes() -> int:
    return int(getattr(settings, "IM_MAX_FRAME_BYTES", 32 * 1024))


def frame_rate() -> tuple[float, float]:
    """(frames per second sustained, burst) allowed per connection."""
    return float(getattr(settings, "IM_FRAME_RATE", 20)), float(getattr(settings, "IM_FRAME_BURST", 60))


# Frames a client may send, per endpoint.
CLIENT_FRAMES_COMMON = ("ping", "send", "subscribe", "resume", "unsubscribe", "typing", "read")
CLIENT_FRAMES_VISITOR = ("start",)

# Frames only the server sends (events from apps/messaging/events.py are sent as they are).
SERVER_FRAMES = ("hello", "pong", "ack", "subscribed", "unsubscribed", "started", "resync", "error")

# Stable error codes of the websocket protocol and the REST API, with what they mean.
ERROR_CODES: dict[str, str] = {
    "invalid_json": _("The frame is not valid JSON."),
    "invalid_frame": _("The frame is missing a field or a field has the wrong type."),
    "unknown_type": _("Unknown frame type."),
    "frame_too_large": _("The frame is too large."),
    "rate_limited": _("Too many frames. Slow down."),
    "not_found": _("Conversation not found."),
    "forbidden": _("You may not do this."),
    "conversation_closed": _("This conversation has ended."),
    "message_too_long": _("The message is too long."),
    "empty_message": _("The message is empty."),
    "invalid_client_msg_id": _("client_msg_id must be 1 to 64 characters."),
    "invalid_seq": _("seq is beyond the last message of the conversation."),
    "unauthorized": _("Missing or invalid credentials."),
    "token_expired": _("The visitor token has expired."),
    "origin_not_allowed": _("This site may not open the chat."),
    "channel_disabled": _("This channel is not accepting conversations."),
    "invalid_identity": _("The signed identity is malformed."),
    "identity_expired": _("The signed identity has expired."),
    "invalid_signature": _("The identity signature is not valid."),
    "attachment_too_large": _("The file is too large."),
    "attachment_type_not_allowed": _("This type of file is not allowed."),
    "attachment_invalid": _("The file is damaged or not what it claims to be."),
    "unavailable": _("The service is briefly unavailable. Your message will be sent again."),
    "internal_error": _("Something went wrong on our side."),
}

# Events a visitor connection may receive (everything else on the conversation group is staff business).
VISITOR_EVENTS = {
    "message.created",
    "typing",
    "read",
    "conversation.queued",
    "conversation.assigned",
    "conversation.closed",
    "conversation.rating_requested",
    "conversation.updated",
}
