"""Bot-first conversations: greet, answer from the knowledge base, ask "was this helpful?",
capture information, and hand off to a human when a rule says so (every handoff records why).

Runs in Celery (apps.knowledge.tasks), enqueued on commit of the visitor's message. Everything
the bot says goes through apps.messaging.services.message_create with a client_msg_id derived
from the visitor message, so a redelivered task never answers twice.

Buttons are plain message payloads the widget renders; pressing one sends a visitor message
whose payload carries it back:
    {"kb_action": "handoff"}                                   -> hand off (reason "requested")
    {"kb_action": "feedback", "answer_id": n, "helpful": bool}  -> was this helpful?
    {"kb_action": "ask", "entry_id": n}                         -> answer that FAQ entry
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.conversations.models import Conversation, ConversationStatus
from apps.conversations.services import conversation_event_record
from apps.core.errors import ApplicationError
from apps.knowledge.capture import SLOT_PROMPTS, compile_patterns, extract_slots
from apps.knowledge.learning import missed_question_record, missed_question_record_handoff
from apps.knowledge.models import (
    BotAnswer,
    BotSettings,
    CapturedSlot,
    ConversationBotState,
    FaqEntry,
    HandoffReason,
)
from apps.knowledge.providers import Answer, AskContext, provider_for
from apps.knowledge.services import bot_settings_get, slots_capture
from apps.knowledge.tracking import TrackingResult, asks_for_tracking, tracking_lookup
from apps.messaging.models import ContentType, Message, SenderKind
from apps.messaging.services import message_create
from apps.routing.selectors import is_working_time

logger = logging.getLogger(__name__)

HANDOFF_BUTTON = {"label": "转人工", "payload": {"kb_action": "handoff"}}
HELPFUL_TEXT = "很高兴能帮到您！还有其他问题可以继续问我。"
UNHELPFUL_TEXT = "抱歉没能帮到您。您可以换个说法再问一次，或者点击“转人工”联系人工客服。"
RELATED_PREFIX = "您是不是想问："


def _contains_any(text: str, words: list[str]) -> str:
    lowered = (text or "").lower()
    for w in sorted(words, key=len, reverse=True):
        if w and w.lower() in lowered:
            return w
    return ""


def _say(conversation: Conversation, *, body: str, key: str, payload: dict | None = None) -> Message:
    return message_create(
        conversation_id=conversation.pk,
        sender_kind=SenderKind.BOT,
        body=body,
        payload=payload or {},
        client_msg_id=key[:64],
    )


def _transition_to_human(*, conversation: Conversation, reason: str, text: str = "") -> None:
    """bot -> queued through dispatch, which may refuse (off hours, queue full, intake paused) with
    an ApplicationError."""
    from apps.conversations.services import conversation_handoff_to_human

    conversation_handoff_to_human(conversation_id=conversation.pk, reason=reason, text=text, actor=None)


def _known_slots(conversation: Conversation) -> set[str]:
    from apps.customers.models import Customer

    known = set(CapturedSlot.objects.filter(conversation_id=conversation.pk).values_list("slot", flat=True))
    row = Customer.objects.filter(pk=conversation.customer_id).values("captured", "phone", "display_name").first() or {}
    known |= {k for k, v in (row.get("captured") or {}).items() if v}
    # What the visitor already gave in the pre-chat form (or a signed identity) is known too.
    if row.get("phone"):
        known.add("phone")
    if row.get("display_name"):
        known.add("name")
    return known


class _Turn:
    """One bot turn inside the conversation's row lock."""

    def __init__(self, *, conversation, state, settings, key, record=None, customer=None, text="", message=None):
        self.text = text
        self.message = message
        self.conversation = conversation
        self.state = state
        self.settings = settings
        self.key = key
        self.record = record
        self.customer = customer

    def finish(self, reply: Message | None, outcome: str) -> BotAnswer | None:
        self.state.answers += 1
        self.state.save()
        if self.record is not None:
            self.record.reply_message = reply
            self.record.outcome = outcome
            self.record.save()
        return self.record

    def handoff(self, reason: str, detail: str = "", *, allow_ask: bool = True) -> BotAnswer | None:
        state, settings = self.state, self.settings
        wanted = [s for s in settings.slots_before_handoff or [] if s in SLOT_PROMPTS]
        missing = [s for s in wanted if s not in _known_slots(self.conversation)]
        if allow_ask and missing and "__handoff__" not in state.asked_slots:
            state.asked_slots = [*state.asked_slots, "__handoff__", *missing]
            state.awaiting_handoff_reason = reason
            body = "为了让人工客服更快帮您处理，请先告诉我您的" + "、".join(SLOT_PROMPTS[s] for s in missing) + "。"
            reply = _say(
                self.conversation, body=body, key=self.key, payload={"kb": {"outcome": "ask_slots", "slots": missing}}
            )
            return self.finish(reply, "ask_slots")
        # The hours dispatch's gate applies to the channel's branch: off them, take a message.
        channel = self.conversation.channel
        if not is_working_time(tenant=self.conversation.tenant, branch=channel.branch):
            state.taking_message = True
            reply = _say(
                self.conversation,
                body=settings.offhours_text,
                key=self.key,
                payload={"kb": {"outcome": "offhours", "reason": reason}},
            )
            conversation_event_record(
                conversation=self.conversation, kind="bot_offhours", reason=reason, data={"detail": detail}
            )
            return self.finish(reply, f"offhours:{reason}")
        try:
            _transition_to_human(conversation=self.conversation, reason=reason, text=self.text)
        except ApplicationError as exc:
            # Dispatch refused (off hours, queue full, intake paused): keep serving, take a message.
            state.taking_message = True
            reply = _say(
                self.conversation,
                body=f"{exc.message}",
                key=self.key,
                payload={"kb": {"outcome": "handoff_refused", "reason": reason, "code": exc.code}},
            )
            conversation_event_record(
                conversation=self.conversation, kind="bot_handoff_refused", reason=reason, data={"code": exc.code}
            )
            return self.finish(reply, f"refused:{reason}")
        state.handoff_reason = reason
        state.handoff_detail = detail[:200]
        state.handed_off_at = timezone.now()
        reply = _say(
            self.conversation,
            body=settings.handoff_text,
            key=self.key,
            payload={"kb": {"outcome": "handoff", "reason": reason}},
        )
        return self.finish(reply, f"handoff:{reason}")


def _lock(conversation_id: int):
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    state, _created = ConversationBotState.objects.get_or_create(
        conversation=conversation, defaults={"tenant_id": conversation.tenant_id}
    )
    return conversation, state


def bot_reply(*, message_id: int) -> BotAnswer | None:
    """Answer one visitor message while the conversation is with the bot.

    The answer provider (the knowledge base, or a tenant's HTTP service) is asked *before* the
    conversation row is locked: no network call is made while the lock is held. The turn itself —
    rules, reply, state — runs inside the lock, once per visitor message."""
    existing = BotAnswer.objects.filter(question_message_id=message_id).first()
    if existing is not None:
        return existing
    message = Message.objects.filter(pk=message_id).first()
    if message is None or message.sender_kind != SenderKind.VISITOR:
        return None
    payload = message.payload if isinstance(message.payload, dict) else {}
    if message.content_type != ContentType.TEXT and not payload.get("kb_action"):
        return None  # an image or file is for the agent who takes over; the bot has nothing to match
    settings = bot_settings_get(tenant_id=message.tenant_id)
    prepared = _prepare(message=message, payload=payload, settings=settings)
    with transaction.atomic():
        turn = _start_turn(message=message, settings=settings)
        if turn is None or isinstance(turn, BotAnswer):
            return turn
        return _run_turn(turn, message=message, payload=payload, prepared=prepared)


@dataclass
class _Prepared:
    """What was asked over the network before the turn's lock: the provider's answers, or the
    tenant's tracking service about the waybill number the visitor gave."""

    answers: list[Answer] | None = None
    tracking: TrackingResult | None = None


def _prepare(*, message: Message, payload: dict, settings: BotSettings) -> _Prepared:
    """Asked before any lock. Nothing when the message is a button (the turn answers it from the
    database) or there is nothing to ask."""
    from apps.channels.models import Channel
    from apps.tenants.models import Tenant

    text = message.body or ""
    if payload.get("kb_action") or not text.strip():
        return _Prepared()
    channel = Channel.objects.filter(pk=message.conversation.channel_id).values_list("pk", "branch_id").first()
    if channel is None:
        return _Prepared()
    found = extract_slots(text, waybill_patterns=compile_patterns(settings.waybill_patterns))
    question = _without_slots(text, found)
    tenant_slug = Tenant.objects.filter(pk=message.tenant_id).values_list("slug", flat=True).first() or ""
    if settings.tracking_url and found.get("waybill") and asks_for_tracking(question):
        return _Prepared(
            tracking=tracking_lookup(
                url=settings.tracking_url,
                secret=settings.tracking_secret,
                timeout=settings.tracking_timeout,
                waybill=found["waybill"][0],
                tenant_slug=tenant_slug,
                conversation_id=message.conversation_id,
            )
        )
    context = AskContext(
        tenant_id=message.tenant_id,
        tenant_slug=tenant_slug,
        channel_id=channel[0],
        branch_path=_branch_path(channel[1]),
        conversation_id=message.conversation_id,
    )
    return _Prepared(answers=provider_for(settings).answer(text=question, context=context, k=3))


def _start_turn(*, message: Message, settings: BotSettings) -> _Turn | BotAnswer | None:
    """Lock the conversation, check the bot still owns it, capture slots and open the turn's record."""
    from apps.channels.models import Channel
    from apps.customers.models import Customer

    conversation, state = _lock(message.conversation_id)
    if conversation.status != ConversationStatus.BOT:
        return None
    existing = BotAnswer.objects.filter(question_message_id=message.pk).first()
    if existing is not None:
        return existing
    if not Channel.objects.filter(pk=conversation.channel_id, bot_enabled=True).exists():
        return None
    customer = Customer.objects.get(pk=conversation.customer_id)
    slots_capture(conversation=conversation, message=message, settings=settings)
    record = BotAnswer.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        question_message=message,
        provider=settings.provider,
    )
    return _Turn(
        conversation=conversation,
        state=state,
        settings=settings,
        key=f"bot-{message.pk}",
        record=record,
        customer=customer,
        text=message.body or "",
        message=message,
    )


def _run_turn(turn: _Turn, *, message: Message, payload: dict, prepared: _Prepared) -> BotAnswer | None:
    for step in (_take_message, _resume_handoff, _handoff_rules):
        done = step(turn, payload)
        if done is not None:
            return done
    if payload.get("kb_action") == "feedback":
        return _feedback(turn, payload)
    if prepared.tracking is not None:
        return _tracking_answer(turn, prepared.tracking)
    answers = _button_answer(turn, payload) or prepared.answers or []
    return _answer_or_fall_back(turn, answers)


def _tracking_answer(turn: _Turn, result: TrackingResult) -> BotAnswer | None:
    """The shipment's status from the tenant's tracking service; when it could not say, an agent."""
    if not result.ok:
        conversation_event_record(
            conversation=turn.conversation,
            kind="bot_tracking_failed",
            reason=HandoffReason.TRACKING_FAILED,
            data={"waybill": result.waybill, "error": result.reason},
        )
        return turn.handoff(HandoffReason.TRACKING_FAILED, f"{result.reason}:{result.waybill}", allow_ask=False)
    turn.state.low_confidence_streak = 0
    payload = {
        "kb": {"answer_id": turn.record.pk, "outcome": "tracking", "tracking": result.as_payload()},
        "buttons": [HANDOFF_BUTTON],
    }
    turn.record.confidence = 1.0
    reply = _say(turn.conversation, body=result.answer_text(), key=turn.key, payload=payload)
    return turn.finish(reply, "tracking")


def _take_message(turn: _Turn, payload: dict) -> BotAnswer | None:
    """Off hours, after the bot offered to take a message: this message is it."""
    state = turn.state
    if not state.taking_message:
        return None
    state.left_message = (state.left_message + "\n" + turn.text).strip()[:5000]
    state.taking_message = False
    reply = _say(
        turn.conversation,
        body=turn.settings.message_taken_text,
        key=turn.key,
        payload={"kb": {"outcome": "message_taken"}},
    )
    conversation_event_record(
        conversation=turn.conversation,
        kind="bot_message_taken",
        reason="off_hours",
        data={"message_id": turn.message.pk},
    )
    return turn.finish(reply, "message_taken")


def _resume_handoff(turn: _Turn, payload: dict) -> BotAnswer | None:
    """The bot asked for information before a handoff: whatever the visitor said, hand off now."""
    reason = turn.state.awaiting_handoff_reason
    if not reason:
        return None
    turn.state.awaiting_handoff_reason = ""
    return turn.handoff(reason, allow_ask=False)


def _handoff_rules(turn: _Turn, payload: dict) -> BotAnswer | None:
    """The handoff button, words asking for a human, VIP customers, urgent words — in that order."""
    settings, text = turn.settings, turn.text
    if payload.get("kb_action") == "handoff":
        missed_question_record_handoff(
            conversation=turn.conversation, message=turn.message, reason=HandoffReason.REQUESTED, word=turn.text
        )
        return turn.handoff(HandoffReason.REQUESTED, "button")
    word = _contains_any(text, BotSettings.split_words(settings.handoff_words))
    if word:
        missed_question_record_handoff(
            conversation=turn.conversation, message=turn.message, reason=HandoffReason.REQUESTED, word=word
        )
        return turn.handoff(HandoffReason.REQUESTED, word)
    if turn.customer.is_vip and settings.vip_handoff:
        return turn.handoff(HandoffReason.VIP, allow_ask=False)
    word = _contains_any(text, BotSettings.split_words(settings.urgent_words))
    if word:
        missed_question_record_handoff(
            conversation=turn.conversation, message=turn.message, reason=HandoffReason.URGENT
        )
        return turn.handoff(HandoffReason.URGENT, word, allow_ask=False)
    return None


def _button_answer(turn: _Turn, payload: dict) -> list[Answer]:
    """A "did you mean" button names its FAQ entry: answer it with full confidence."""
    entry_id = payload.get("entry_id")
    if payload.get("kb_action") != "ask" or not isinstance(entry_id, int):
        return []
    entry = FaqEntry.objects.filter(tenant_id=turn.conversation.tenant_id, pk=entry_id, is_enabled=True).first()
    if entry is None:
        return []
    return [
        Answer(
            answer=entry.answer,
            confidence=1.0,
            question=entry.question,
            entry_id=entry.pk,
            links=entry.links,
            images=entry.images,
            ask_slots=entry.ask_slots,
        )
    ]


def _answer_or_fall_back(turn: _Turn, answers: list[Answer]) -> BotAnswer | None:
    record, state, settings = turn.record, turn.state, turn.settings
    best = answers[0] if answers else None
    record.confidence = best.confidence if best else 0.0
    record.provider = best.provider if best else settings.provider
    if best is not None and best.confidence >= settings.confidence_threshold:
        state.low_confidence_streak = 0
        return _answer(turn, best, answers[1:])
    missed_question_record(
        conversation=turn.conversation,
        message=turn.message,
        reason=HandoffReason.LOW_CONFIDENCE,
        confidence=record.confidence,
        suggested_entry_id=best.entry_id if best else None,
    )
    state.low_confidence_streak += 1
    if state.low_confidence_streak >= max(1, settings.max_low_confidence):
        return turn.handoff(HandoffReason.LOW_CONFIDENCE, f"{record.confidence:.2f}")
    return _fallback(turn, answers)


def _without_slots(text: str, found: dict[str, list[str]]) -> str:
    """Numbers the visitor gives (waybill, phone) say nothing about the question: match without them."""
    for slot in ("waybill", "phone"):
        for value in found.get(slot, []):
            text = re.sub(re.escape(value), " ", text, flags=re.IGNORECASE)
    return text


def _branch_path(branch_id: int | None) -> str | None:
    if branch_id is None:
        return None
    from apps.accounts.models import Branch

    return Branch.objects.filter(pk=branch_id).values_list("path", flat=True).first()


def _answer(turn: _Turn, best: Answer, others: list[Answer]) -> BotAnswer | None:
    record, state = turn.record, turn.state
    record.entry_id = best.entry_id
    body = best.answer
    ask = [s for s in best.ask_slots if s in SLOT_PROMPTS and s not in state.asked_slots]
    ask = [s for s in ask if s not in _known_slots(turn.conversation)]
    if ask:
        state.asked_slots = [*state.asked_slots, *ask]
        body += "\n为了更快帮您处理，请提供您的" + "、".join(SLOT_PROMPTS[s] for s in ask) + "。"
    payload = {
        "kb": {
            "answer_id": record.pk,
            "entry_id": best.entry_id,
            "question": best.question,
            "confidence": round(best.confidence, 4),
            "provider": best.provider,
            "outcome": "answered",
            "ask_slots": ask,
        },
        "links": best.links,
        "images": best.images,
        "related": [{"entry_id": a.entry_id, "question": a.question} for a in others if a.entry_id],
        "buttons": [
            {"label": "有帮助", "payload": {"kb_action": "feedback", "answer_id": record.pk, "helpful": True}},
            {"label": "没帮助", "payload": {"kb_action": "feedback", "answer_id": record.pk, "helpful": False}},
            HANDOFF_BUTTON,
        ],
    }
    reply = _say(turn.conversation, body=body, key=turn.key, payload=payload)
    if best.entry_id:
        FaqEntry.objects.filter(pk=best.entry_id).update(hit_count=F("hit_count") + 1)
    return turn.finish(reply, "answered")


def _fallback(turn: _Turn, answers: list[Answer]) -> BotAnswer | None:
    related = [a for a in answers if a.entry_id][:3]
    body = turn.settings.fallback_text
    if related:
        body += "\n" + RELATED_PREFIX + "；".join(a.question for a in related)
    payload = {
        "kb": {"answer_id": turn.record.pk, "outcome": "fallback", "confidence": turn.record.confidence},
        "buttons": [
            *({"label": a.question, "payload": {"kb_action": "ask", "entry_id": a.entry_id}} for a in related),
            HANDOFF_BUTTON,
        ],
    }
    reply = _say(turn.conversation, body=body, key=turn.key, payload=payload)
    return turn.finish(reply, "fallback")


def _feedback(turn: _Turn, payload: dict) -> BotAnswer | None:
    helpful = bool(payload.get("helpful"))
    answer_id = payload.get("answer_id")
    target = None
    if isinstance(answer_id, int):
        target = BotAnswer.objects.filter(pk=answer_id, conversation_id=turn.conversation.pk).first()
    if target is not None and target.helpful is None:
        target.helpful = helpful
        target.save(update_fields=["helpful"])
        if target.entry_id:
            counter = "helpful_count" if helpful else "unhelpful_count"
            FaqEntry.objects.filter(pk=target.entry_id).update(**{counter: F(counter) + 1})
    if helpful:
        turn.state.low_confidence_streak = 0
        reply = _say(turn.conversation, body=HELPFUL_TEXT, key=turn.key, payload={"kb": {"outcome": "thanks"}})
        return turn.finish(reply, "feedback:helpful")
    turn.state.low_confidence_streak += 1
    if turn.state.low_confidence_streak >= max(1, turn.settings.max_low_confidence):
        return turn.handoff(HandoffReason.LOW_CONFIDENCE, "not helpful")
    reply = _say(
        turn.conversation,
        body=UNHELPFUL_TEXT,
        key=turn.key,
        payload={"kb": {"outcome": "unhelpful"}, "buttons": [HANDOFF_BUTTON]},
    )
    return turn.finish(reply, "feedback:unhelpful")


def hot_questions(*, tenant_id: int, limit: int = 5) -> list[dict]:
    now = timezone.now()
    rows = (
        FaqEntry.objects.filter(tenant_id=tenant_id, is_enabled=True, branch__isnull=True, channel__isnull=True)
        .exclude(valid_from__gt=now)
        .exclude(valid_to__lt=now)
        .order_by("-hit_count", "id")
        .values("id", "question")[:limit]
    )
    return [{"entry_id": r["id"], "question": r["question"]} for r in rows]


def bot_greet(*, conversation_id: int) -> Message | None:
    """The bot's first words; VIP customers go straight to a human when the tenant says so."""
    from apps.customers.models import Customer

    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or conversation.status != ConversationStatus.BOT:
        return None
    settings = bot_settings_get(tenant_id=conversation.tenant_id)
    with transaction.atomic():
        conversation, state = _lock(conversation_id)
        if conversation.status != ConversationStatus.BOT or state.answers:
            return None
        customer = Customer.objects.get(pk=conversation.customer_id)
        turn = _Turn(conversation=conversation, state=state, settings=settings, key="bot-greeting", customer=customer)
        if customer.is_vip and settings.vip_handoff:
            turn.handoff(HandoffReason.VIP, allow_ask=False)
            return None
        if not settings.greeting.strip():
            return None
        questions = hot_questions(tenant_id=conversation.tenant_id)
        reply = _say(
            conversation,
            body=settings.greeting,
            key=turn.key,
            payload={
                "kb": {"outcome": "greeting"},
                "buttons": [
                    *(
                        {"label": q["question"], "payload": {"kb_action": "ask", "entry_id": q["entry_id"]}}
                        for q in questions
                    ),
                    HANDOFF_BUTTON,
                ],
            },
        )
        turn.finish(reply, "greeting")
        return reply
