import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.accounts.models import AgentStatusLog
from apps.conversations.models import Rating
from apps.reports import selectors

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]
SH = zoneinfo.ZoneInfo("Asia/Shanghai")


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


# Just before and after midnight in Shanghai, and in the 16:00-24:00 UTC stretch where the UTC
# date and the tenant's differ.
INSTANTS = ["2026-03-09T15:58:00+00:00", "2026-03-09T16:02:00+00:00", "2026-03-09T20:30:00+00:00"]


@pytest.mark.parametrize("instant", INSTANTS)
def test_my_stats_count_received_messages_ratings_connect_rate_and_status_time(api_client, fa, org_a, instant):
    with time_machine.travel(datetime.fromisoformat(instant), tick=False) as clock:
        agent = org_a.agent_sh
        start = timezone.now() - timedelta(minutes=10)
        AgentStatusLog.objects.create(
            tenant=org_a.tenant, agent=agent, previous="offline", status="online", created_at=start
        )
        AgentStatusLog.objects.create(
            tenant=org_a.tenant, agent=agent, previous="online", status="busy", created_at=start + timedelta(minutes=4)
        )
        answered = fa.conversation(agent=agent)
        fa.visitor_says(answered, "在吗")
        clock.shift(timedelta(seconds=30))
        fa.agent_says(answered, agent, "在的")
        fa.agent_says(answered, agent, "请讲")
        fa.conversation(agent=agent)  # received, never answered
        fa.conversation(agent=org_a.agent_pd)  # someone else's
        Rating.objects.create(tenant=org_a.tenant, conversation=answered, score=4, agent=agent)
        api_client.force_login(agent)
        data = api_client.get("/api/v1/workbench/stats/").json()
        assert data["received"] == 2 and data["offered"] == 2 and data["connect_rate"] == 100.0
        assert data["messages_sent"] == 2
        assert data["answered"] == 1 and data["first_response_avg"] == 30.0
        assert data["ratings"] == 1 and data["average_score"] == 4.0 and data["satisfaction"] == 100.0
        assert data["ratings_by_score"]["4"] == 1
        # 4 minutes online then busy until now (10.5 minutes after `start`), counted from the
        # tenant's midnight only: just after midnight part of it belongs to yesterday.
        midnight = timezone.now().astimezone(SH).replace(hour=0, minute=0, second=0)

        def overlap(a, b):
            return max(0, int((min(b, timezone.now()) - max(a, midnight)).total_seconds()))

        online, busy = (
            overlap(start, start + timedelta(minutes=4)),
            overlap(start + timedelta(minutes=4), timezone.now()),
        )
        assert data["status_seconds"] == {k: v for k, v in (("online", online), ("busy", busy)) if v}
        assert data["logged_in_seconds"] == online + busy
        # "Today" is the tenant's: the conversations are on today's bar whatever the UTC date.
        today = timezone.now().astimezone(SH).date().isoformat()
        assert data["per_day"][-1] == {"date": today, "conversations": 2, "messages": 2}
        # The same figures as the agent report of the super admin (one definition).
        rng = selectors.parse_range(tz=SH, date_from=today, date_to=today, grain="d")
        row = next(
            r
            for r in selectors.report_table(actor=org_a.admin, dimension="agent", rng=rng)["rows"]
            if r["id"] == agent.pk
        )
        assert (row["agent_accepted"], row["frt_avg"], row["logged_in_s"]) == (2, 30.0, online + busy)


@time_machine.travel(datetime.fromisoformat("2026-03-09T17:00:00+00:00"), tick=False)
def test_stats_page_renders_svg_charts_and_rejects_bad_ranges(client, api_client, fa, org_a):
    fa.conversation(agent=org_a.agent_sh)
    client.force_login(org_a.agent_sh)
    week_ago = "2026-03-04"  # the tenant's today is 2026-03-10
    body = client.get("/workbench/stats/", {"from": week_ago}).content.decode()
    assert body.count('<svg class="wb-bars"') == 3
    assert body.count("<rect") >= 7
    api_client.force_login(org_a.agent_sh)
    resp = api_client.get("/api/v1/workbench/stats/", {"from": "2020-01-01", "to": "2026-01-01"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "range_too_long"
    assert api_client.get("/api/v1/workbench/stats/", {"from": "nope"}).status_code == 400
