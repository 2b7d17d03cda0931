"""Waiting for the customer: reminder, optional release from the active count, the customer's
reply wakes it, auto-close after the tenant's silence with a message."""

from __future__ import annotations

import datetime as dt
from datetime import UTC

import pytest
import time_machine

from apps.conversations.models import Conversation
from apps.conversations.services import agent_active_count
from apps.messaging.models import Message
from apps.messaging.services import message_create
from apps.routing import waiting

pytestmark = [pytest.mark.django_db(transaction=True)]

T0 = dt.datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


def test_waiting_releases_load_by_choice_and_a_customer_reply_wakes_it(dispatch, monkeypatch):
    sent = []
    # conversation.updated goes to the access policy's audience (publish_conversation_event)
    monkeypatch.setattr(
        "apps.routing.waiting.publish_conversation_event", lambda conversation, event, **kw: sent.append(event)
    )
    dispatch.settings(waiting_releases_load=True)
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    with time_machine.travel(T0, tick=False):
        first = dispatch.start()
        second = dispatch.start()
    assert first.assignee_id == agent.pk and second.status == "queued"  # full at 1
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        waiting.conversation_wait(conversation_id=first.pk, actor=agent, remind_at=T0 + dt.timedelta(hours=1))
    second.refresh_from_db()
    assert second.assignee_id == agent.pk  # the freed place was used at once
    assert agent_active_count(agent_id=agent.pk) == 1  # the waiting one is not counted
    assert sent[-1]["conversation"]["waiting_since"] is not None
    message_create(conversation_id=first.pk, sender_kind="visitor", body="我回来了")
    first.refresh_from_db()
    assert first.waiting_since is None and not first.load_released
    assert agent_active_count(agent_id=agent.pk) == 2  # the customer is back: it counts again
    assert list(first.events.filter(kind__startswith="waiting").values_list("kind", "reason")) == [
        ("waiting", ""),
        ("waiting_ended", "customer_replied"),
    ]


def test_waiting_keeps_counting_by_default_reminds_once_and_closes_after_silence(dispatch, monkeypatch):
    sent = []
    monkeypatch.setattr("apps.routing.waiting.publish", lambda groups, event: sent.append((groups, event)))
    dispatch.settings(waiting_close_seconds=3600, waiting_close_message="长时间未收到回复，会话已结束。")
    agent = dispatch.agent(dispatch.org.sh, cap=2)
    with time_machine.travel(T0, tick=False):
        conv = dispatch.start()
        waiting.conversation_wait(conversation_id=conv.pk, actor=agent, remind_at=T0 + dt.timedelta(minutes=30))
    assert agent_active_count(agent_id=agent.pk) == 1
    assert waiting.waiting_reminders(now=T0 + dt.timedelta(minutes=29)) == 0
    assert waiting.waiting_reminders(now=T0 + dt.timedelta(minutes=31)) == 1
    assert waiting.waiting_reminders(now=T0 + dt.timedelta(minutes=32)) == 0
    groups, event = sent[-1]
    assert event == {
        "type": "conversation.reminder",
        "conversation_id": conv.pk,
        "remind_at": "2026-03-04T02:30:00+00:00",
    }
    assert groups == f"t{dispatch.org.tenant.pk}.agent.{agent.pk}"
    assert waiting.waiting_close_silent(now=T0 + dt.timedelta(minutes=59)) == 0
    assert waiting.waiting_close_silent(now=T0 + dt.timedelta(minutes=61)) == 1
    assert waiting.waiting_close_silent(now=T0 + dt.timedelta(minutes=62)) == 0
    conv.refresh_from_db()
    assert conv.status == "closed" and conv.close_reason == "waiting_timeout"
    assert Message.objects.filter(conversation=conv, body="长时间未收到回复，会话已结束。").exists()


def test_only_the_agent_of_an_active_conversation_may_park_it(dispatch, org_b):
    agent = dispatch.agent(dispatch.org.sh)
    other = dispatch.agent(dispatch.org.south)
    conv = dispatch.start()
    from apps.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as exc:
        waiting.conversation_wait(conversation_id=conv.pk, actor=org_b.admin)
    assert exc.value.status_code == 404
    with pytest.raises(ApplicationError) as exc:
        waiting.conversation_wait(conversation_id=conv.pk, actor=agent, remind_at=T0.replace(year=2000))
    assert exc.value.code == "invalid_remind_at"
    assert Conversation.objects.get(pk=conv.pk).waiting_since is None
    assert other.pk != agent.pk
