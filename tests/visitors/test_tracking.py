"""Live visitor context: what the widget reports (with consent), how visits and trails are kept,
who sees them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.channels import services as channel_services
from apps.customers.models import Customer
from apps.messaging.groups import conversation_group
from apps.routing.intake import conversation_intake
from apps.visitors import services
from apps.visitors.events import visitors_group
from apps.visitors.models import PageView, Visit

SITE = "https://www.sf-demo.example"
KEY = "v-0123456789abcdef0123"
IPHONE_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
T0 = dt.datetime(2026, 5, 4, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def web(org_a):
    return channel_services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="上海官网",
        kind="web",
        branch=org_a.sh,
        allowed_origins=[SITE],
    )


def track(client, channel, event="page", *, origin=SITE, ip="223.5.5.5", ua=IPHONE_WECHAT, plain=True, **fields):
    body = {"channel": channel.key, "visitor": KEY, "event": event, **fields}
    return client.post(
        "/api/v1/visitors/track/",
        data=json.dumps(body),
        content_type="text/plain" if plain else "application/json",
        HTTP_ORIGIN=origin,
        HTTP_USER_AGENT=ua,
        REMOTE_ADDR=ip,
    )


@pytest.mark.smoke
def test_pages_of_a_visit_are_kept_with_device_region_and_time_on_page(client, web):
    with time_machine.travel(T0, tick=False) as clock:
        first = track(
            client,
            web,
            url=f"{SITE}/?utm_source=baidu#top",
            title="顺丰速运",
            referrer="https://www.baidu.com/s?wd=顺丰",
            language="zh-CN",
        )
        assert first.status_code == 200 and first["Access-Control-Allow-Origin"] == SITE
        clock.shift(42)
        assert track(client, web, url=f"{SITE}/track?no=SF123", title="运单查询").status_code == 200
    visit = Visit.objects.get()
    assert (visit.number, visit.pages, visit.device, visit.os, visit.browser) == (
        1,
        2,
        "mobile",
        "iOS 17",
        "WeChat Browser 8",
    )
    assert visit.region == "中国 浙江省 杭州市" and visit.language == "zh-CN"
    assert visit.landing_url == f"{SITE}/?utm_source=baidu" and visit.referrer.startswith("https://www.baidu.com/s")
    assert (visit.current_url, visit.current_title) == (f"{SITE}/track?no=SF123", "运单查询")
    trail = list(PageView.objects.order_by("id").values_list("title", "seconds"))
    assert trail == [("顺丰速运", 42), ("运单查询", None)]
    assert visit.tenant_id == web.tenant_id and visit.created_at == T0  # for retention


def test_a_new_visit_starts_after_half_an_hour_of_silence(client, web):
    with time_machine.travel(T0, tick=False) as clock:
        track(client, web, url=f"{SITE}/a")
        clock.shift(dt.timedelta(minutes=29))
        track(client, web, event="ping")
        clock.shift(dt.timedelta(minutes=29))
        track(client, web, url=f"{SITE}/b")  # 29 min after the ping: same visit
        clock.shift(dt.timedelta(minutes=31))
        track(client, web, url=f"{SITE}/c")
    assert list(Visit.objects.order_by("number").values_list("number", "pages", "landing_url")) == [
        (1, 2, f"{SITE}/a"),
        (2, 1, f"{SITE}/c"),
    ]


def test_other_sites_and_addresses_are_refused_and_nothing_is_stored(client, web):
    assert track(client, web, origin="https://evil.example", url="https://evil.example/").status_code == 403
    assert track(client, web, url="https://evil.example/x").status_code == 400
    assert track(client, web, url="javascript:alert(1)").status_code == 400
    assert track(client, web, url=f"{SITE}/", visitor="short").status_code == 400
    bad_json = client.post("/api/v1/visitors/track/", data="{", content_type="text/plain", HTTP_ORIGIN=SITE)
    assert bad_json.status_code == 400
    assert not Visit.objects.exists()


def test_tracking_respects_the_channel_mode_and_the_visitors_consent(client, web):
    web.config = {**web.config, "visitor_tracking": "off"}
    web.save()
    assert track(client, web, url=f"{SITE}/").status_code == 204
    web.config["visitor_tracking"] = "consent"
    web.save()
    assert track(client, web, url=f"{SITE}/").status_code == 204
    assert track(client, web, event="ping").status_code == 204
    assert not Visit.objects.exists()
    assert track(client, web, url=f"{SITE}/", consent=True).status_code == 200
    assert Visit.objects.count() == 1


def test_browsers_that_ask_not_to_be_tracked_are_not(client, web):
    body = json.dumps({"channel": web.key, "visitor": KEY, "event": "page", "url": f"{SITE}/"})
    for header in ({"HTTP_SEC_GPC": "1"}, {"HTTP_DNT": "1"}):
        response = client.post(
            "/api/v1/visitors/track/", data=body, content_type="text/plain", HTTP_ORIGIN=SITE, **header
        )
        assert response.status_code == 204
    assert not Visit.objects.exists()


def test_page_view_costs_a_bounded_number_of_queries(client, web, django_assert_max_num_queries):
    track(client, web, url=f"{SITE}/a")
    with django_assert_max_num_queries(9):
        assert track(client, web, url=f"{SITE}/b").status_code == 200


def test_pages_beyond_the_cap_only_move_the_counters(client, web, monkeypatch):
    monkeypatch.setattr(services, "MAX_PAGES_STORED", 3)
    for i in range(5):
        track(client, web, url=f"{SITE}/p{i}")
    visit = Visit.objects.get()
    assert visit.pages == 5 and visit.current_url == f"{SITE}/p4" and PageView.objects.count() == 3


# --- live: who is told -------------------------------------------------------------------------------------


def _listen(groups_):
    layer = get_channel_layer()
    name = async_to_sync(layer.new_channel)()
    for group in groups_:
        async_to_sync(layer.group_add)(group, name)
    return layer, name


def _drain(layer, name, timeout=0.5) -> list[dict]:
    async def run():
        events = []
        while True:
            try:
                msg = await asyncio.wait_for(layer.receive(name), timeout)
            except TimeoutError:
                return events
            events.append(msg["event"])

    return async_to_sync(run)()


def _chatting(client, web, org):
    """The visitor opened the chat: a session, the link of this browser's visits, a conversation."""
    session = client.post(
        "/api/v1/visitor/sessions/",
        data={"channel_key": web.key},
        content_type="application/json",
        HTTP_ORIGIN=SITE,
    ).json()
    linked = client.post(
        "/api/v1/visitors/link/",
        data={"visitor": KEY},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Visitor {session['token']}",
    )
    assert linked.status_code == 200 and linked.json() == {"linked": 1}
    customer = Customer.objects.get(pk=session["customer_id"])
    return conversation_intake(channel=web, customer=customer)


def test_agents_panel_and_watchers_follow_the_visitor(client, web, org_a, django_capture_on_commit_callbacks):
    track(client, web, url=f"{SITE}/", title="首页")
    conversation = _chatting(client, web, org_a)
    layer, name = _listen([conversation_group(web.tenant_id, conversation.pk), visitors_group(web.tenant_id, web.pk)])
    with django_capture_on_commit_callbacks(execute=True):
        track(client, web, url=f"{SITE}/price", title="价格 <b>表</b>")
    events = _drain(layer, name)
    pages = [e for e in events if e["type"] == "visitor.page"]
    assert len(pages) == 2  # once per group: the conversation's subscribers and the list's watchers
    assert pages[0]["visit"]["url"] == f"{SITE}/price" and pages[0]["visit"]["customer_id"] == conversation.customer_id
    # The panel's data: the page now and the trail, for the agent who may open the conversation.
    client.force_login(org_a.admin)
    context = client.get(f"/api/v1/visitors/conversations/{conversation.pk}/").json()
    assert context["current"]["title"] == "价格 <b>表</b>" and context["current"]["online"] is True
    assert [p["title"] for p in context["visits"][0]["page_views"]] == ["首页", "价格 <b>表</b>"]


def test_leaving_is_announced_only_if_no_page_follows(client, web, django_capture_on_commit_callbacks):
    track(client, web, url=f"{SITE}/a")
    layer, name = _listen([visitors_group(web.tenant_id, web.pk)])
    with django_capture_on_commit_callbacks(execute=True):
        track(client, web, event="leave")  # navigating: the next page comes at once
        track(client, web, url=f"{SITE}/b")
    visit = Visit.objects.get()
    assert not services.announce_left(visit_id=visit.pk, pages=1)
    with django_capture_on_commit_callbacks(execute=True):
        track(client, web, event="leave")
    assert [e["type"] for e in _drain(layer, name)] == ["visitor.page", "visitor.left"]
    assert Visit.objects.get().left_at is not None


def test_live_list_is_scoped_to_the_channels_the_viewer_may_see(client, web, org_a, org_b):
    track(client, web, url=f"{SITE}/", title="首页")
    conversation = _chatting(client, web, org_a)
    for user, expected in ((org_a.sup_east, 1), (org_a.admin, 1), (org_a.sup_south, 0), (org_b.admin, 0)):
        client.force_login(user)
        data = client.get("/api/v1/visitors/live/").json()
        assert len(data["visitors"]) == expected, user.username
    client.force_login(org_a.sup_east)
    data = client.get("/api/v1/visitors/live/", {"branch": org_a.sh.pk}).json()
    row = data["visitors"][0]
    assert row["chatting"] is True and row["conversation_id"] == conversation.pk and row["title"] == "首页"
    assert data["channels"] == [{"id": web.pk, "name": "上海官网", "branch": "Shanghai", "visitors": 1, "chatting": 1}]
    assert client.get("/api/v1/visitors/live/", {"branch": org_a.south.pk}).json()["visitors"] == []
    assert client.get("/api/v1/visitors/live/", {"channel": "abc"}).status_code == 400
    # Another tenant's agent asking for the panel data: the same 404 as a conversation that does not exist.
    client.force_login(org_b.admin)
    assert client.get(f"/api/v1/visitors/conversations/{conversation.pk}/").status_code == 404
    assert client.get("/api/v1/visitors/conversations/99999999/").status_code == 404


def test_region_and_device_are_decided_offline():
    from apps.visitors.context import device_of, region_of

    assert region_of("114.114.114.114") == "中国 江苏省 南京市"
    assert region_of("127.0.0.1") == "" and region_of("not an ip") == "" and region_of("10.1.2.3") == ""
    assert device_of(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
    ) == ("desktop", "Windows 10", "Edge 131")
    assert device_of("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)")[0] == "bot"
