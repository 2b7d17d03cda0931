"""Wire-level constants of the websocket protocol (documented in docs/protocol.md)."""

from __future__ import annotations

import json
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _

PROTOCOL_VERSION = 1
HEARTBEAT_SECONDS = 30
# A resume further back than this is answered with "resync": fetch history over REST instead.
RESYNC_LIMIT = 1000
REPLAY_PAGE = 200


def max_frame_bytes() -> int:
    return int(getattr(settings, "IM_MAX_FRAME_BYTES", 32 * 1024))


# The transport ceiling (docs/protocol.md §3): every websocket message up to this size reaches the
# consumer, which answers one over max_frame_bytes() with frame_too_large on an open socket; a
# larger one is refused by the transport with close code 1009 (apps.core.webserver sets it).
TRANSPORT_MAX_BYTES = 4 * 1024 * 1024
MAX_NESTING = 32


class FrameError(Exception):
    def __init__(self, code: str, message):
        super().__init__(code)
        self.code = code
        self.message = message


def _depth_ok(text: str, limit: int) -> bool:
    """Nesting depth of a JSON text, counted outside strings, without building anything."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_frame(text: str):
    """The JSON value of a frame, or FrameError("invalid_json") for text that is not JSON, nests
    deeper than MAX_NESTING levels or holds a lone UTF-16 surrogate (\\ud800): none of them can be
    stored or sent on, and the socket stays open."""
    if (
        ("[" in text or "{" in text)
        and text.count("[") + text.count("{") > MAX_NESTING
        and not _depth_ok(text, MAX_NESTING)
    ):
        raise FrameError("invalid_json", _("The frame nests deeper than %(n)d levels.") % {"n": MAX_NESTING})
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", ERROR_CODES["invalid_json"])
    # Text off the wire is decoded UTF-8 (no surrogates): only a \\u escape can make one.
    if "\\u" in text:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise FrameError("invalid_json", _("The frame contains an unpaired UTF-16 surrogate."))
    return value


_REF_RE = re.compile(r'"ref"\s*:\s*(?:"((?:[^"\\]|\\.){0,64})"|(-?\d{1,18}))')


def ref_without_parsing(text: str):
    """The frame's `ref` as far as it can be read without parsing (frames too large or not JSON)."""
    match = _REF_RE.search(text[:4096]) or (_REF_RE.search(text) if len(text) > 4096 else None)
    if match is None:
        return None
    if match.group(2) is not None:
        return int(match.group(2))
    try:
        return json.loads(f'"{match.group(1)}"')
    except ValueError:
        return None


def frame_rate() -> tuple[float, float]:
    """(frames per second sustained, burst) allowed per connection."""
    return float(getattr(settings, "IM_FRAME_RATE", 20)), float(getattr(settings, "IM_FRAME_BURST", 60))


# Frames a client may send, per endpoint.
CLIENT_FRAMES_COMMON = ("ping", "send", "subscribe", "resume", "unsubscribe", "typing", "read")
CLIENT_FRAMES_VISITOR = ("start",)
CLIENT_FRAMES_AGENT = ("recall", "viewing")

# Frames only the server sends (events from apps/messaging/events.py are sent as they are).
SERVER_FRAMES = (
    "hello",
    "pong",
    "ack",
    "subscribed",
    "unsubscribed",
    "started",
    "resync",
    "recalled",
    "viewers",
    "error",
)

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
    "parse_error": _("The request body is not valid JSON."),
    "recall_not_sender": _("Only the sender can recall a message."),
    "recall_not_allowed": _("This message cannot be recalled."),
    "recall_too_late": _("The recall window has passed."),
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
