"""Bot-first conversations: answers, feedback, every handoff trigger, off-hours, capture."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from apps.conversations.models import ConversationStatus
from apps.knowledge.models import BotAnswer, CapturedSlot, ConversationBotState, FaqEntry


def _state(conversation):
    return ConversationBotState.objects.get(conversation=conversation)


def _handed_off(kit, conversation, reason):
    conversation = kit.refresh(conversation)
    assert conversation.status != ConversationStatus.BOT
    assert _state(conversation).handoff_reason == reason
    from apps.conversations.models import ConversationEvent

    # The transition records the reason (dispatch's helper or our fallback).
    assert ConversationEvent.objects.filter(conversation=conversation, reason=reason).exists()
    return conversation


@pytest.mark.smoke
def test_bot_greets_then_answers_with_helpful_buttons(kit):
    conversation = kit.start()
    greeting = kit.last_bot(conversation)
    assert greeting.payload["kb"]["outcome"] == "greeting"
    assert {"kb_action": "handoff"} in [b["payload"] for b in greeting.payload["buttons"]]

    kit.say(conversation, "寄件要多少天能到")
    reply = kit.last_bot(conversation)
    entry = FaqEntry.objects.get(pk=reply.payload["kb"]["entry_id"])
    assert entry.question == "寄快递一般几天能到？"
    assert reply.body.startswith(entry.answer)
    labels = [b["label"] for b in reply.payload["buttons"]]
    assert labels == ["有帮助", "没帮助", "转人工"]
    assert kit.refresh(conversation).status == ConversationStatus.BOT
    entry.refresh_from_db()
    assert entry.hit_count == 1

    helpful = reply.payload["buttons"][0]["payload"]
    kit.say(conversation, "有帮助", payload=helpful)
    entry.refresh_from_db()
    assert entry.helpful_count == 1
    assert BotAnswer.objects.get(pk=helpful["answer_id"]).helpful is True


@pytest.mark.smoke
def test_bot_reply_task_is_idempotent(kit):
    from apps.knowledge.bot import bot_reply

    conversation = kit.start()
    question = kit.say(conversation, "运费怎么算")
    count = len(kit.bot_messages(conversation))
    again = bot_reply(message_id=question.pk)
    assert again is not None and len(kit.bot_messages(conversation)) == count
    assert BotAnswer.objects.filter(question_message=question).count() == 1


@pytest.mark.smoke
@pytest.mark.parametrize("text", ["转人工", "我要人工客服", "能不能找人工"])
def test_visitor_asking_for_a_human_hands_off(kit, text):
    conversation = kit.start()
    kit.say(conversation, text)
    _handed_off(kit, conversation, "requested")
    assert kit.last_bot(conversation).payload["kb"] == {"outcome": "handoff", "reason": "requested"}


@pytest.mark.smoke
def test_handoff_button_hands_off(kit):
    conversation = kit.start()
    kit.say(conversation, "转接客服", payload={"kb_action": "handoff"})
    _handed_off(kit, conversation, "requested")


@pytest.mark.smoke
def test_n_consecutive_low_confidence_answers_hand_off(kit):
    kit.settings(max_low_confidence=2)
    conversation = kit.start()
    kit.say(conversation, "今天天气怎么样")
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "fallback"
    assert kit.refresh(conversation).status == ConversationStatus.BOT
    kit.say(conversation, "讲个笑话吧")
    _handed_off(kit, conversation, "low_confidence")


@pytest.mark.smoke
def test_a_good_answer_resets_the_low_confidence_streak(kit):
    kit.settings(max_low_confidence=2)
    conversation = kit.start()
    kit.say(conversation, "今天天气怎么样")
    kit.say(conversation, "运费怎么算")
    kit.say(conversation, "讲个笑话吧")
    assert kit.refresh(conversation).status == ConversationStatus.BOT
    assert _state(conversation).low_confidence_streak == 1


@pytest.mark.smoke
def test_not_helpful_feedback_counts_towards_handoff(kit):
    kit.settings(max_low_confidence=1)
    conversation = kit.start()
    kit.say(conversation, "运费怎么算")
    unhelpful = kit.last_bot(conversation).payload["buttons"][1]["payload"]
    kit.say(conversation, "没帮助", payload=unhelpful)
    _handed_off(kit, conversation, "low_confidence")


@pytest.mark.smoke
def test_urgent_words_hand_off_at_once(kit):
    kit.settings(urgent_words="丢件,报警")
    conversation = kit.start()
    kit.say(conversation, "我的快递丢件了！")
    conversation = _handed_off(kit, conversation, "urgent")
    assert _state(conversation).handoff_detail == "丢件"


@pytest.mark.smoke
def test_vip_customer_goes_straight_to_a_human(kit):
    from apps.customers.models import Customer

    vip = Customer.objects.create(tenant=kit.org.tenant, display_name="vip", is_vip=True)
    conversation = kit.start(customer=vip)
    _handed_off(kit, conversation, "vip")


@pytest.mark.smoke
def test_vip_handoff_can_be_switched_off(kit):
    from apps.customers.models import Customer

    kit.settings(vip_handoff=False)
    vip = Customer.objects.create(tenant=kit.org.tenant, display_name="vip", is_vip=True)
    conversation = kit.start(customer=vip)
    kit.say(conversation, "运费怎么算")
    assert kit.refresh(conversation).status == ConversationStatus.BOT


@pytest.mark.smoke
@time_machine.travel(dt.datetime.fromisoformat("2026-03-09T02:00:00+00:00"), tick=False)  # Monday 10:00 in Shanghai
def test_off_hours_bot_keeps_answering_and_takes_a_message(kit):
    from apps.routing.models import WorkingHours
    from apps.routing.selectors import dispatch_settings_forget

    # The company's working hours are the bot's service hours: Mondays 12:00-13:00 only.
    WorkingHours.objects.create(tenant=kit.org.tenant, weekday=0, start=dt.time(12), end=dt.time(13))
    dispatch_settings_forget(kit.org.tenant.pk)
    conversation = kit.start()
    kit.say(conversation, "转人工")
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "offhours"
    kit.say(conversation, "明天上午请回电 13800138000")
    state = _state(conversation)
    assert "明天上午请回电" in state.left_message
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "message_taken"
    kit.say(conversation, "运费怎么算")
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "answered"
    assert kit.refresh(conversation).status == ConversationStatus.BOT


@time_machine.travel(dt.datetime.fromisoformat("2026-03-09T04:30:00+00:00"), tick=False)  # Monday 12:30 in Shanghai
def test_inside_working_hours_the_bot_hands_off(kit):
    from apps.routing.models import WorkingHours
    from apps.routing.selectors import dispatch_settings_forget

    WorkingHours.objects.create(tenant=kit.org.tenant, weekday=0, start=dt.time(12), end=dt.time(13))
    dispatch_settings_forget(kit.org.tenant.pk)
    conversation = kit.start()
    kit.say(conversation, "转人工")
    assert kit.refresh(conversation).status != ConversationStatus.BOT
    assert not any(m.payload.get("kb", {}).get("outcome") == "offhours" for m in conversation.messages.all())


@pytest.mark.smoke
def test_slots_are_asked_once_before_handoff(kit):
    kit.settings(slots_before_handoff=["phone"])
    conversation = kit.start()
    kit.say(conversation, "转人工")
    assert kit.last_bot(conversation).payload["kb"] == {"outcome": "ask_slots", "slots": ["phone"]}
    assert kit.refresh(conversation).status == ConversationStatus.BOT
    kit.say(conversation, "手机 13800138000")
    _handed_off(kit, conversation, "requested")


@pytest.mark.smoke
@pytest.mark.parametrize(
    "text,slot,value",
    [
        ("我的单号是 SF1234567890", "waybill", "SF1234567890"),
        ("手机 13800138000", "phone", "13800138000"),
        ("单号sf1234567890，电话13800138000", "waybill", "SF1234567890"),
        ("我叫王小明", "name", "王小明"),
        ("地址是上海市浦东新区张江路100号", "address", "上海市浦东新区张江路100号"),
    ],
)
def test_slots_are_captured_on_conversation_and_customer(kit, text, slot, value):
    conversation = kit.start()
    kit.say(conversation, text)
    assert CapturedSlot.objects.filter(conversation=conversation, slot=slot, value=value).exists()
    kit.customer.refresh_from_db()
    captured = kit.customer.captured[slot]
    assert value in captured if isinstance(captured, list) else captured == value


@pytest.mark.smoke
def test_tenant_waybill_patterns_are_used(kit):
    kit.settings(waybill_patterns=r"\bXY\d{8}\b")  # RE2 syntax: tests/knowledge/test_patterns.py
    conversation = kit.start()
    kit.say(conversation, "单号 XY12345678 还有 SF1234567890")
    values = set(CapturedSlot.objects.filter(conversation=conversation, slot="waybill").values_list("value", flat=True))
    assert values == {"XY12345678"}


@pytest.mark.smoke
def test_answer_asks_for_the_slots_its_entry_needs(kit):
    conversation = kit.start()
    kit.say(conversation, "帮我查下物流到哪了")
    reply = kit.last_bot(conversation)
    assert reply.payload["kb"]["ask_slots"] == ["waybill"]
    assert "运单号" in reply.body
    kit.say(conversation, "单号 SF1234567890 物流到哪了")
    assert kit.last_bot(conversation).payload["kb"]["ask_slots"] == []


@pytest.mark.smoke
def test_bot_stays_silent_once_a_human_has_the_conversation(kit):
    conversation = kit.start()
    kit.say(conversation, "转人工")
    before = len(kit.bot_messages(conversation))
    kit.say(conversation, "运费怎么算")
    assert len(kit.bot_messages(conversation)) == before


@pytest.mark.smoke
def test_entries_outside_the_channel_scope_or_dates_are_not_answered(kit):
    from django.utils import timezone

    from apps.knowledge.services import faq_entry_create

    other_branch = faq_entry_create(
        tenant_id=kit.org.tenant.pk, question="华南冷链专线怎么收费", answer="华南专线价", branch=kit.org.south
    )
    expired = faq_entry_create(
        tenant_id=kit.org.tenant.pk,
        question="双十一活动冷链专线优惠",
        answer="活动价",
        valid_to=timezone.now() - dt.timedelta(days=1),
    )
    conversation = kit.start()
    kit.say(conversation, "华南冷链专线怎么收费")
    kit.say(conversation, "双十一活动冷链专线优惠")
    ids = {m.payload.get("kb", {}).get("entry_id") for m in kit.bot_messages(conversation)}
    assert other_branch.pk not in ids and expired.pk not in ids


@pytest.mark.smoke
def test_handoff_refused_by_dispatch_keeps_the_bot_and_takes_a_message(kit, monkeypatch):
    from apps.conversations import services as conversation_services
    from apps.core.errors import ApplicationError

    def refuse(**kwargs):
        raise ApplicationError("queue_full", "排队已满，请留言")

    monkeypatch.setattr(conversation_services, "conversation_handoff_to_human", refuse, raising=False)
    conversation = kit.start()
    kit.say(conversation, "转人工")
    reply = kit.last_bot(conversation)
    assert reply.body == "排队已满，请留言"
    assert reply.payload["kb"] == {"outcome": "handoff_refused", "reason": "requested", "code": "queue_full"}
    kit.say(conversation, "请联系我 13800138000")
    assert "请联系我" in _state(conversation).left_message
    assert kit.refresh(conversation).status == ConversationStatus.BOT


@pytest.mark.smoke
def test_no_bot_on_channels_without_it(kit):
    kit.channel.bot_enabled = False
    kit.channel.save()
    conversation = kit.start()
    kit.say(conversation, "运费怎么算")
    assert kit.bot_messages(conversation) == []


@pytest.mark.smoke
def test_demo_data_loads_idempotently(org_a):
    from apps.knowledge.demo import knowledge_demo
    from apps.knowledge.models import AlertKeyword, KbTerm

    knowledge_demo(tenant=org_a.tenant, branches={})
    counts = (
        FaqEntry.objects.filter(tenant=org_a.tenant).count(),
        KbTerm.objects.filter(tenant=org_a.tenant).count(),
        AlertKeyword.objects.filter(tenant=org_a.tenant).count(),
    )
    knowledge_demo(tenant=org_a.tenant, branches={})
    assert counts[0] >= 50
    assert counts == (
        FaqEntry.objects.filter(tenant=org_a.tenant).count(),
        KbTerm.objects.filter(tenant=org_a.tenant).count(),
        AlertKeyword.objects.filter(tenant=org_a.tenant).count(),
    )


@pytest.mark.smoke
def test_images_from_the_visitor_are_not_answered_or_counted_as_misses(kit):
    from apps.messaging.services import message_create

    kit.settings(max_low_confidence=1)
    conversation = kit.start()
    with kit.capture(execute=True):
        message_create(
            conversation_id=conversation.pk,
            sender_kind="visitor",
            content_type="image",
            body="",
            payload={"url": "/media/x.png"},
        )
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "greeting"
    assert kit.refresh(conversation).status == ConversationStatus.BOT


def test_a_resent_question_whose_hand_off_was_lost_is_answered_once(kit):
    """The visitor's message committed but its sender never ran the after-commit work (the
    database went away during COMMIT); the visitor resends it, the outbox sweeper runs the
    work, and the lost callbacks run late after all: one answer."""
    from datetime import datetime, timedelta

    import time_machine

    from apps.messaging import outbox
    from apps.messaging.services import message_create

    with time_machine.travel(datetime.fromisoformat("2026-03-09T09:00:00+00:00"), tick=False) as clock:
        conversation = kit.start()
        greeted = len(kit.bot_messages(conversation))
        with kit.capture(execute=False) as lost:
            question = message_create(
                conversation_id=conversation.pk, sender_kind="visitor", body="运费怎么算", client_msg_id="q-1"
            )
        with kit.capture(execute=True):
            again = message_create(
                conversation_id=conversation.pk, sender_kind="visitor", body="运费怎么算", client_msg_id="q-1"
            )
        assert again.pk == question.pk and len(kit.bot_messages(conversation)) == greeted
        clock.shift(timedelta(seconds=11))
        with kit.capture(execute=True):
            assert outbox.outbox_sweep() == 1
        for callback in lost:
            callback()
    assert len(kit.bot_messages(conversation)) == greeted + 1
    assert BotAnswer.objects.filter(question_message=question).count() == 1
