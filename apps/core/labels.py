"""Words for the codes stored in rows: lifecycle events, reasons, statuses. Every page and export
shows these, never the raw code; a code nobody has named yet is shown as "other" plus the code in
a tooltip (see templatetags/labels.py), and the all-pages walk test fails on raw codes it knows."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

EVENT_KINDS = {
    "created": _("Conversation started"),
    "handoff": _("Handed to a person by the bot"),
    "assigned": _("Assigned"),
    "requeued": _("Back in the queue"),
    "overflowed": _("Overflowed to a higher branch"),
    "transfer_requested": _("Transfer requested"),
    "transfer_accepted": _("Transfer accepted"),
    "transfer_declined": _("Transfer declined"),
    "transfer_timed_out": _("Transfer timed out"),
    "transfer_cancelled": _("Transfer cancelled"),
    "closed": _("Closed"),
    "reopened": _("Reopened"),
    "rating_invited": _("Rating invited"),
    "rated": _("Rated"),
    "tagged": _("Tagged"),
    "inactivity_warned": _("Visitor reminded (no reply)"),
    "bot_offhours": _("Bot: outside service hours"),
    "bot_message_taken": _("Bot took a message"),
    "bot_handoff_refused": _("Hand-off refused (queue closed or full)"),
    "bot_tracking_failed": _("Bot: waybill could not be looked up"),
}

REASONS = {
    # assignment
    "auto": _("Automatic assignment"),
    "accepted": _("Taken from the queue"),
    "supervisor_takeover": _("Taken over by a supervisor"),
    "transfer": _("Transfer"),
    "sticky": _("Back to the last agent"),
    # back to the queue
    "first_response_timeout": _("No first reply in time"),
    "agent_offline": _("Agent went offline"),
    "handed_back": _("Handed back by a supervisor"),
    "transferred_to_queue": _("Transferred to a queue"),
    "no_agent_online": _("Nobody online"),
    "visitor_returned": _("Visitor came back"),
    # closing
    "resolved": _("Resolved"),
    "agent_closed": _("Closed by the agent"),
    "spam": _("Spam"),
    "no_response": _("No response"),
    "queue_timeout": _("Waited too long in the queue"),
    "visitor_inactive": _("Visitor inactive"),
    "visitor_closed": _("Closed by the visitor"),
    # transfers
    "declined": _("Declined"),
    "timeout": _("Timed out"),
    "busy": _("Busy"),
    # bot hand-off
    "visitor_request": _("Visitor asked for a person"),
    "requested": _("Visitor asked for a person"),
    "low_confidence": _("Bot could not answer"),
    "urgent": _("Urgent words"),
    "vip": _("VIP customer"),
    "tracking_failed": _("Waybill could not be looked up"),
    "off_hours": _("Outside service hours"),
    # agent status changes
    "login": _("Logged in"),
    "logout": _("Logged out"),
    "connected": _("Connected"),
    "disconnected": _("Disconnected"),
    "take_over": _("Took over a conversation"),
    "account_disabled": _("Account disabled"),
    "branch_disabled": _("Branch disabled"),
}


def conversation_status(code: str) -> str:
    from apps.conversations.models import ConversationStatus

    return str(dict(ConversationStatus.choices).get(code, code or "-"))


def agent_status(code: str) -> str:
    from apps.accounts.models import AgentStatus

    return str(dict(AgentStatus.choices).get(code, code or "-"))


def event_kind(code: str) -> str:
    return str(EVENT_KINDS.get(code) or _("Other"))


def reason(code: str) -> str:
    if not code:
        return ""
    return str(REASONS.get(code) or _("Other"))
