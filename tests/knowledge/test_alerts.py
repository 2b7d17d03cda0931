"""F53 keyword alerts: once per conversation per keyword, delivered to that subtree's supervisors only."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.knowledge.models import KeywordAlert, Severity
from apps.knowledge.services import alert_keyword_create
from apps.messaging.groups import agent_group


def _listen(users):
    layer = get_channel_layer()
    channels = {}
    for user in users:
        name = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(agent_group(user.tenant_id, user.pk), name)
        channels[user.username] = name
    return layer, channels


def _drain_all(layer, channels: dict, timeout=0.5) -> dict:
    """Receive on every channel in one event loop (a layer's receive buffers are per loop)."""

    async def one(channel):
        events = []
        while True:
            try:
                msg = await asyncio.wait_for(layer.receive(channel), timeout)
            except TimeoutError:
                return events
            events.append(msg["event"])

    async def run():
        results = await asyncio.gather(*(one(ch) for ch in channels.values()))
        return dict(zip(channels, results, strict=True))

    return async_to_sync(run)()


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield


@pytest.fixture
def keywords(kit):
    tenant_id = kit.org.tenant.pk
    return [
        alert_keyword_create(tenant_id=tenant_id, word="投诉", severity=Severity.HIGH),
        alert_keyword_create(tenant_id=tenant_id, word="12315", severity=Severity.CRITICAL),
        alert_keyword_create(tenant_id=tenant_id, word="媒体", severity=Severity.HIGH, watch_staff=False),
    ]


@pytest.mark.smoke
def test_alert_fires_once_per_conversation_per_keyword(kit, keywords):
    conversation = kit.start()
    kit.say(conversation, "再不处理我就投诉")
    kit.say(conversation, "我要投诉！打12315")
    kit.say(conversation, "投诉投诉")
    alerts = KeywordAlert.objects.filter(conversation=conversation)
    assert sorted(alerts.values_list("word", flat=True)) == ["12315", "投诉"]
    conversation.refresh_from_db()
    assert conversation.flags["alert_severity"] == Severity.CRITICAL
    assert set(conversation.flags["alert_words"]) == {"投诉", "12315"}
    other = kit.start(customer=type(kit.customer).objects.create(tenant=kit.org.tenant))
    kit.say(other, "投诉")
    assert KeywordAlert.objects.filter(word="投诉").count() == 2


@pytest.mark.smoke
def test_alert_reaches_only_supervisors_of_that_subtree_and_super_admins(kit, keywords, in_memory_layer):
    org = kit.org
    layer, channels = _listen([org.sup_east, org.sup_south, org.admin, org.agent_sh])
    conversation = kit.start()  # the channel belongs to Shanghai, under East
    kit.say(conversation, "我要找媒体曝光你们")
    received = _drain_all(layer, channels)
    alert_events = {name: [e for e in events if e["type"] == "alert.keyword"] for name, events in received.items()}
    assert [e["alert"]["keyword"] for e in alert_events[org.sup_east.username]] == ["媒体"]
    assert [e["conversation_id"] for e in alert_events[org.admin.username]] == [conversation.pk]
    assert alert_events[org.sup_south.username] == []
    assert alert_events[org.agent_sh.username] == []


@pytest.mark.smoke
def test_agent_messages_are_watched_unless_the_keyword_says_visitors_only(kit, keywords):
    conversation = kit.start()
    kit.say(conversation, "您可以拨打12315", sender_kind="agent", user=kit.org.agent_sh)
    kit.say(conversation, "媒体的事我们会处理", sender_kind="agent", user=kit.org.agent_sh)
    assert list(KeywordAlert.objects.filter(conversation=conversation).values_list("word", "sender_kind")) == [
        ("12315", "agent")
    ]


@pytest.mark.smoke
def test_bot_messages_and_other_tenants_keywords_do_not_fire(kit, kit_b, keywords):
    conversation_b = kit_b.start()
    kit_b.say(conversation_b, "我要投诉")
    assert not KeywordAlert.objects.filter(conversation=conversation_b).exists()
    conversation = kit.start()
    kit.say(conversation, "投诉怎么处理", sender_kind="bot")
    assert not KeywordAlert.objects.filter(conversation=conversation).exists()


@pytest.mark.smoke
def test_alert_list_is_scoped_to_the_readers_subtree(kit, keywords, api_client):
    conversation = kit.start()
    kit.say(conversation, "我要投诉")
    api_client.force_authenticate(kit.org.sup_east)
    assert [a["word"] for a in api_client.get("/api/v1/kb/alerts/").json()["results"]] == ["投诉"]
    api_client.force_authenticate(kit.org.sup_south)
    assert api_client.get("/api/v1/kb/alerts/").json()["results"] == []


@pytest.mark.smoke
def test_scanning_a_message_without_keywords_costs_one_query(kit, keywords, django_assert_num_queries):
    from apps.knowledge.alerts import keyword_alerts_scan
    from apps.messaging.models import Message

    conversation = kit.start()
    message = Message(
        conversation=conversation, tenant_id=conversation.tenant_id, sender_kind="visitor", body="运费怎么算"
    )
    with django_assert_num_queries(1):
        assert keyword_alerts_scan(conversation=conversation, message=message) == []
