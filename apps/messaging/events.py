"""Every event published to clients, declared once with its fields.

`publish()` refuses an event that does not match its declaration, and tests check every
declared event against docs/protocol.md.
"""

from __future__ import annotations

EVENTS: dict[str, set[str]] = {
    # messaging
    "message.created": {"conversation_id", "message"},
    "typing": {"conversation_id", "sender_kind", "sender_name", "is_typing"},
    "read": {"conversation_id", "reader_kind", "reader_id", "seq"},
    # staff only: who has the conversation open, typing or holding a draft (apps.messaging.collision)
    "conversation.viewers": {"conversation_id", "viewers", "version"},
    # to the mentioned colleague only (apps.messaging.mentions)
    "mention.created": {"conversation_id", "mention"},
    # conversation lifecycle (dispatch)
    "conversation.queued": {"conversation_id", "position", "estimated_wait_seconds", "agents_online", "as_of"},
    "conversation.assigned": {"conversation", "agent_id"},
    "conversation.transfer_requested": {"conversation", "transfer"},
    "conversation.transfer_resolved": {"conversation_id", "transfer_id", "accepted", "reason"},
    "conversation.closed": {"conversation_id", "reason"},
    "conversation.updated": {"conversation"},
    "conversation.rating_requested": {"conversation_id"},
    "conversation.rated": {"conversation_id", "score", "agent_id"},
    "conversation.reminder": {"conversation_id", "remind_at"},
    "queue.changed": {"queue_length"},
    "agent.status": {"agent_id", "status", "active_chats", "max_chats"},
    # browsing visitors (apps.visitors)
    "visitor.page": {"visit"},
    "visitor.left": {"visit"},
    # knowledge base / bot (apps.knowledge)
    "alert.keyword": {"conversation_id", "alert"},
    "sla.breached": {"conversation_id", "breach"},
    # AI assistance (apps.assist): a transfer's or close's summary is ready (staff only)
    "assist.summary": {"conversation_id", "summary"},
}


class UndeclaredEvent(ValueError):
    pass


def validate(event: dict) -> None:
    etype = event.get("type")
    if etype not in EVENTS:
        raise UndeclaredEvent(f"event type {etype!r} is not declared in apps/messaging/events.py")
    missing = EVENTS[etype] - set(event)
    if missing:
        raise UndeclaredEvent(f"event {etype!r} is missing fields {sorted(missing)}")
