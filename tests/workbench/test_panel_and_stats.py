from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import Rating
from apps.reports.models import AgentStatusLog
from apps.workbench.stats import status_durations

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_customer_panel_finds_waybills_phones_captured_facts_and_past_conversations(api_client, fa, org_a):
    customer = fa.customer("赵六", phone="13800000000", captured={"地址": "上海市浦东新区"})
    old = fa.close(fa.conversation(agent=org_a.agent_pd, customer=customer))
    conv = fa.conversation(agent=org_a.agent_sh, customer=customer)
    fa.visitor_says(conv, "我的快递 SF1234567890123 还没到，另一个是 773012345678901，电话 13912345678")
    api_client.force_login(org_a.agent_sh)
    data = api_client.get(f"/api/v1/workbench/conversations/{conv.pk}/customer/").json()
    assert data["customer"]["name"] == "赵六" and data["customer"]["phone"] == "13800000000"
    assert data["waybills"] == ["SF1234567890123", "773012345678901"]
    assert data["phones_in_conversation"] == ["13912345678"]
    assert data["captured"] == {"地址": "上海市浦东新区"}
    assert [p["id"] for p in data["past_conversations"]] == [old.pk]
    # The past conversation of a customer I serve now can be read (the panel links it).
    assert api_client.get(f"/api/v1/workbench/history/{old.pk}/").status_code == 200


def test_customer_panel_of_another_branchs_conversation_is_404(api_client, fa, org_a):
    conv = fa.conversation(agent=org_a.agent_south)
    api_client.force_login(org_a.agent_sh)
    assert api_client.get(f"/api/v1/workbench/conversations/{conv.pk}/customer/").status_code == 404


def test_status_durations_split_the_range_by_status_changes():
    t0 = timezone.now() - timedelta(hours=3)
    events = [(t0 + timedelta(minutes=30), "online"), (t0 + timedelta(minutes=90), "busy")]
    got = status_durations(initial="invisible", events=events, start=t0, end=t0 + timedelta(hours=2))
    assert got == {"invisible": 1800, "online": 3600, "busy": 1800}


def test_my_stats_count_received_messages_ratings_connect_rate_and_status_time(api_client, fa, org_a):
    agent = org_a.agent_sh
    answered = fa.conversation(agent=agent)
    fa.visitor_says(answered, "在吗")
    fa.agent_says(answered, agent, "在的")
    fa.agent_says(answered, agent, "请讲")
    fa.conversation(agent=agent)  # received, never answered
    fa.conversation(agent=org_a.agent_pd)  # someone else's
    Rating.objects.create(tenant=org_a.tenant, conversation=answered, score=4, agent=agent)
    start = timezone.now() - timedelta(minutes=10)
    AgentStatusLog.objects.create(
        tenant=org_a.tenant, agent=agent, previous="offline", status="online", created_at=start
    )
    AgentStatusLog.objects.create(
        tenant=org_a.tenant, agent=agent, previous="online", status="busy", created_at=start + timedelta(minutes=4)
    )
    api_client.force_login(agent)
    data = api_client.get("/api/v1/workbench/stats/").json()
    assert data["received"] == 2
    assert data["messages_sent"] == 2
    assert data["answered"] == 1 and data["connect_rate"] == 0.5
    assert data["ratings"] == 1 and data["average_score"] == 4.0
    assert data["ratings_by_score"]["4"] == 1
    assert data["status_seconds"]["online"] == 240
    assert 355 <= data["status_seconds"]["busy"] <= 370
    assert data["logged_in_seconds"] == data["status_seconds"]["online"] + data["status_seconds"]["busy"]
    assert data["per_day"][-1]["conversations"] == 2


def test_stats_page_renders_svg_charts_and_rejects_bad_ranges(client, api_client, fa, org_a):
    fa.conversation(agent=org_a.agent_sh)
    client.force_login(org_a.agent_sh)
    week_ago = (timezone.localdate() - timedelta(days=6)).isoformat()
    body = client.get("/workbench/stats/", {"from": week_ago}).content.decode()
    assert body.count('<svg class="wb-bars"') == 3
    assert body.count("<rect") >= 7
    api_client.force_login(org_a.agent_sh)
    resp = api_client.get("/api/v1/workbench/stats/", {"from": "2020-01-01", "to": "2026-01-01"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "range_too_long"
    assert api_client.get("/api/v1/workbench/stats/", {"from": "nope"}).status_code == 400
