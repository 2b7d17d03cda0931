"""Every write of apps.assist: the provider settings, summaries, reply suggestions, usage.

The provider is called only from Celery tasks (after the commit that asked for it, never under a
lock); a task finds its row by id and does nothing when the row is no longer pending, so running
it twice stores one result. Failures (timeout, an error status, a refused address) end as
"unavailable" and change nothing else: messaging never waits for the provider.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.assist import prompts
from apps.assist.models import AssistSettings, AssistUsage, ConversationSummary, Outcome, ReplySuggestion
from apps.assist.provider import Completion, chat_complete
from apps.core.errors import ApplicationError
from apps.core.services import audit_record, require_tenant_admin, tenant_settings_get

SETTINGS_FIELDS = (
    "is_enabled",
    "api_url",
    "model",
    "api_key",
    "timeout_seconds",
    "summarize_on_transfer",
    "summarize_on_close",
    "suggestions_enabled",
    "max_messages",
)
BOOLEAN_FIELDS = ("is_enabled", "summarize_on_transfer", "summarize_on_close", "suggestions_enabled")
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 60.0
MAX_MESSAGES = 200
MAX_SUGGESTIONS = 3
MAX_SUGGESTION_CHARS = 500


# --- settings ------------------------------------------------------------------------------------


def assist_settings_get(*, tenant_id: int) -> AssistSettings:
    return tenant_settings_get(AssistSettings, tenant_id=tenant_id)


def _require_admin(actor, tenant_id: int) -> None:
    require_tenant_admin(actor, tenant_id, _("Only the company's administrators change AI assistance."))


def setting_clean(name: str, value: Any) -> Any:
    from apps.outbound.guard import validate_url

    if name in BOOLEAN_FIELDS:
        if not isinstance(value, bool):
            raise ApplicationError("invalid", _("Choose yes or no."), extra={"fields": {name: value}})
        return value
    if name == "api_url":
        return validate_url(value) if (value or "").strip() else ""
    if name in ("model", "api_key"):
        value = str(value or "").strip()
        if len(value) > (100 if name == "model" else 300):
            raise ApplicationError("invalid", _("This value is too long."), extra={"fields": {name: "…"}})
        return value
    if name == "timeout_seconds":
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
            raise ApplicationError(
                "invalid",
                _("The timeout is between %(min)d and %(max)d seconds.") % {"min": MIN_TIMEOUT, "max": MAX_TIMEOUT},
                extra={"fields": {name: value}},
            )
        return seconds
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, bool) or not 1 <= count <= MAX_MESSAGES:
        raise ApplicationError(
            "invalid",
            _("Send between 1 and %(max)d messages.") % {"max": MAX_MESSAGES},
            extra={"fields": {name: value}},
        )
    return count


def assist_settings_update(*, actor, tenant_id: int, **changes: Any) -> AssistSettings:
    """Validated as a whole (nothing saved when one value is wrong), audited with old → new (the
    key only as "changed"). An empty api_key leaves the stored key as it is."""
    _require_admin(actor, tenant_id)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ApplicationError("invalid", _("Unknown setting: %(name)s") % {"name": ", ".join(sorted(unknown))})
    clean = {name: setting_clean(name, value) for name, value in changes.items()}
    if not clean.get("api_key", True):
        clean.pop("api_key")
    with transaction.atomic():
        row = assist_settings_get(tenant_id=tenant_id)
        row = AssistSettings.objects.select_for_update().get(pk=row.pk)
        diff = {k: [getattr(row, k), v] for k, v in clean.items() if getattr(row, k) != v}
        for k, v in clean.items():
            setattr(row, k, v)
        if row.is_enabled and not (row.api_url and row.model):
            raise ApplicationError(
                "invalid", _("Enter the API address and the model before switching AI assistance on.")
            )
        row.save()
        if "api_key" in diff:
            diff["api_key"] = ["••••", "••••"]
        if diff:
            audit_record(actor=actor, action="assist.settings_update", obj=row, changes=diff)
    return row


# --- usage ---------------------------------------------------------------------------------------


def usage_record(*, tenant_id: int, completion: Completion) -> None:
    """One call to the provider, counted on the tenant's day (failed ones too)."""
    from apps.tenants.time import local_today, tenant_tz

    day = local_today(tenant_tz(tenant_id=tenant_id))
    AssistUsage.objects.get_or_create(tenant_id=tenant_id, day=day)
    AssistUsage.objects.filter(tenant_id=tenant_id, day=day).update(
        calls=F("calls") + 1,
        failures=F("failures") + (0 if completion.ok else 1),
        prompt_tokens=F("prompt_tokens") + completion.prompt_tokens,
        completion_tokens=F("completion_tokens") + completion.completion_tokens,
        total_tokens=F("total_tokens") + completion.total_tokens,
    )


def _call(config: AssistSettings, messages: list[dict], *, max_tokens: int) -> Completion:
    completion = chat_complete(
        api_url=config.api_url,
        model=config.model,
        api_key=config.api_key,
        messages=messages,
        timeout=config.timeout_seconds,
        max_tokens=max_tokens,
    )
    usage_record(tenant_id=config.tenant_id, completion=completion)
    return completion


def _finish(model, pk: int, **values: Any) -> bool:
    """Store a result only over a pending row: a second run of the task stores nothing."""
    return bool(model.objects.filter(pk=pk, status=Outcome.PENDING).update(finished_at=timezone.now(), **values))


# --- summaries -----------------------------------------------------------------------------------

SUMMARY_TRIGGERS = {"transfer_requested": "transfer", "closed": "close"}
QUEUE_TRANSFER_REASONS = ("transferred_to_queue", "handed_back")


def summary_trigger(*, kind: str, reason: str) -> str:
    """The summary a lifecycle event asks for ("" for none)."""
    if kind == "requeued" and reason in QUEUE_TRANSFER_REASONS:
        return ConversationSummary.Trigger.TRANSFER
    return SUMMARY_TRIGGERS.get(kind, "")


def summary_create(*, tenant_id: int, conversation_id: int, event_id: int, kind: str, reason: str):
    """The pending summary of a transfer or close (after its commit), when the tenant has AI
    assistance on for it; the same row when asked twice. None when no summary is wanted."""
    trigger = summary_trigger(kind=kind, reason=reason)
    if not trigger:
        return None
    config = assist_settings_get(tenant_id=tenant_id)
    wanted = config.summarize_on_transfer if trigger == "transfer" else config.summarize_on_close
    if not (config.usable and wanted):
        return None
    summary, _created = ConversationSummary.objects.get_or_create(
        event_id=event_id, defaults={"tenant_id": tenant_id, "conversation_id": conversation_id, "trigger": trigger}
    )
    return summary


def summary_generate(*, summary_id: int) -> ConversationSummary | None:
    """Ask the provider for a pending summary and store it (or "unavailable"); then the staff who
    may see the conversation are told (`assist.summary`)."""
    from apps.conversations.models import Conversation
    from apps.messaging.publish import publish_conversation_event

    summary = ConversationSummary.objects.filter(pk=summary_id, status=Outcome.PENDING).first()
    if summary is None:
        return None
    config = assist_settings_get(tenant_id=summary.tenant_id)
    completion = (
        _call(config, prompts.summary_messages(summary.conversation_id, config.max_messages), max_tokens=400)
        if config.usable
        else Completion(ok=False, reason="disabled")
    )
    status = Outcome.OK if completion.ok else Outcome.UNAVAILABLE
    with transaction.atomic():
        if not _finish(ConversationSummary, summary.pk, status=status, text=completion.text):
            return None
        summary.refresh_from_db()
        conversation = Conversation.objects.get(pk=summary.conversation_id)
        publish_conversation_event(
            conversation,
            {"type": "assist.summary", "conversation_id": conversation.pk, "summary": summary_to_dict(summary)},
        )
    return summary


def summary_to_dict(summary: ConversationSummary) -> dict:
    return {
        "id": summary.pk,
        "trigger": summary.trigger,
        "status": summary.status,
        "text": summary.text,
        "created_at": summary.created_at.isoformat(),
    }


# --- reply suggestions ---------------------------------------------------------------------------


def suggestion_request(*, conversation, actor) -> ReplySuggestion:
    """The agent asked for reply suggestions (the caller checked ACT): a pending row, the
    provider is called after the commit. Refused when AI assistance is off."""
    config = assist_settings_get(tenant_id=conversation.tenant_id)
    if not (config.usable and config.suggestions_enabled):
        raise ApplicationError("assist_disabled", _("AI assistance is not switched on."), status=409)
    with transaction.atomic():
        row = ReplySuggestion.objects.create(
            tenant_id=conversation.tenant_id, conversation_id=conversation.pk, requested_by=actor
        )
        transaction.on_commit(lambda: _enqueue_suggestion(row.pk), robust=True)
    return row


def _enqueue_suggestion(suggestion_id: int) -> None:
    from apps.assist.tasks import suggestion_task

    suggestion_task.delay(suggestion_id)


_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d+[.、)）]|[（(]\d+[)）])\s*")


def parse_suggestions(text: str) -> list[str]:
    """1-3 replies from the model's answer: a JSON array of strings, or one reply per line."""
    raw = text.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", raw, re.S)
    if fenced:
        raw = fenced.group(1)
    items: list = []
    try:
        data = json.loads(raw)
        items = data if isinstance(data, list) else []
    except ValueError:
        items = [_NUMBERING.sub("", line) for line in raw.splitlines()]
    out = []
    for item in items:
        if isinstance(item, str) and item.strip() and item.strip() not in out:
            out.append(item.strip()[:MAX_SUGGESTION_CHARS])
    return out[:MAX_SUGGESTIONS]


def suggestion_generate(*, suggestion_id: int) -> ReplySuggestion | None:
    row = ReplySuggestion.objects.filter(pk=suggestion_id, status=Outcome.PENDING).first()
    if row is None:
        return None
    config = assist_settings_get(tenant_id=row.tenant_id)
    completion = (
        _call(config, prompts.suggestion_messages(row.conversation_id, config.max_messages), max_tokens=500)
        if config.usable and config.suggestions_enabled
        else Completion(ok=False, reason="disabled")
    )
    replies = parse_suggestions(completion.text) if completion.ok else []
    status = Outcome.OK if replies else Outcome.UNAVAILABLE
    _finish(ReplySuggestion, row.pk, status=status, suggestions=replies)
    row.refresh_from_db()
    return row


def suggestion_to_dict(row: ReplySuggestion) -> dict:
    return {"id": row.pk, "conversation_id": row.conversation_id, "status": row.status, "suggestions": row.suggestions}
