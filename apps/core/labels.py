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


# What the bot did with a question (BotAnswer.outcome: a code, or "code:reason").
BOT_OUTCOMES = {
    "answered": _("Answered"),
    "fallback": _("Did not know the answer"),
    "ask_slots": _("Asked for details first"),
    "offhours": _("Outside service hours"),
    "refused": _("Hand-off refused"),
    "handoff": _("Handed to a person"),
    "message_taken": _("Took a message"),
    "feedback": _("Visitor feedback"),
    "greeting": _("Greeting"),
}
FEEDBACK = {"helpful": _("Helpful"), "unhelpful": _("Not helpful")}


def bot_outcome(code: str) -> str:
    """ "handoff:urgent" -> "Handed to a person (Urgent words)"."""
    if not code:
        return "-"
    head, _sep, tail = code.partition(":")
    word = str(BOT_OUTCOMES.get(head) or _("Other"))
    if tail:
        detail = FEEDBACK.get(tail) or REASONS.get(tail)
        return f"{word}（{detail}）" if detail else word
    return word


# Audit log actions (AuditEntry.action) as words.
AUDIT_ACTIONS = {
    "admin.add": _("Added in the management centre"),
    "admin.change": _("Changed in the management centre"),
    "admin.delete": _("Deleted in the management centre"),
    "assist.settings_update": _("AI assistance settings changed"),
    "branch.create": _("Branch created"),
    "branch.update": _("Branch changed"),
    "branch.enable": _("Branch enabled"),
    "branch.disable": _("Branch disabled"),
    "channel.create": _("Channel created"),
    "channel.enable": _("Channel enabled"),
    "channel.disable": _("Channel disabled"),
    "customer.merge": _("Customers merged"),
    "customer.split": _("Customer split"),
    "customer.view": _("Customer viewed"),
    "dispatch.auto_pause": _("Intake paused automatically"),
    "dispatch.auto_resume": _("Intake resumed automatically"),
    "dispatch.settings": _("Dispatch settings changed"),
    "export.create": _("Export started"),
    "followup.create": _("Follow-up created"),
    "followup.update": _("Follow-up updated"),
    "intervention.hand_back": _("Handed back"),
    "intervention.join": _("Joined a conversation"),
    "intervention.take_over": _("Took over a conversation"),
    "intervention.watch": _("Watched a conversation"),
    "intervention.whisper": _("Whispered to an agent"),
    "invitation_rule.create": _("Invitation rule created"),
    "invitation_rule.update": _("Invitation rule changed"),
    "invitation_rule.delete": _("Invitation rule deleted"),
    "invitation_settings.update": _("Invitation settings changed"),
    "kb.alert_keyword.save": _("Alert keyword saved"),
    "kb.entry.create": _("FAQ entry created"),
    "kb.entry.update": _("FAQ entry changed"),
    "kb.entry.delete": _("FAQ entry deleted"),
    "kb.import": _("FAQ imported"),
    "kb.missed.accept": _("Missed question accepted"),
    "kb.missed.dismiss": _("Missed question dismissed"),
    "kpi.set": _("KPI target set"),
    "privacy.access_download": _("Personal data downloaded"),
    "privacy.retention_update": _("Retention policy changed"),
    "privacy.access_request": _("Personal data access requested"),
    "privacy.erasure_request": _("Erasure requested"),
    "privacy.access_done": _("Personal data access completed"),
    "privacy.erasure_done": _("Erasure completed"),
    "push.retry": _("Push retried"),
    "quick_reply.create": _("Quick reply created"),
    "quick_reply.update": _("Quick reply changed"),
    "quick_reply.delete": _("Quick reply deleted"),
    "skillgroup.members": _("Skill group members changed"),
    "sla.policy_create": _("SLA policy created"),
    "sla.policy_update": _("SLA policy changed"),
    "user.create": _("User created"),
    "user.update": _("User changed"),
    "user.enable": _("User enabled"),
    "user.disable": _("User disabled"),
    "user.password": _("Password changed"),
}


# Keys of AuditEntry.changes that are not a field of the changed model.
AUDIT_KEYS = {
    "conversation": _("conversation"),
    "customer_id": _("customer"),
    "entry": _("FAQ entry"),
    "fields": _("changed fields"),
    "filters": _("filters"),
    "format": _("format"),
    "from_agent": _("from agent"),
    "members": _("members"),
    "merge": _("merge"),
    "source": _("source"),
    "message": _("message"),
    "message_id": _("message"),
    "metric": _("metric"),
    "target": _("target"),
    "name": _("name"),
    "parent": _("parent branch"),
    "title": _("title"),
}


def audit_action(code: str) -> str:
    return str(AUDIT_ACTIONS.get(code) or _("Other"))


def model_name(label: str) -> str:
    """ "reports.ExportJob" -> the model's verbose name in the user's language."""
    from django.apps import apps

    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return str(_("Other"))
