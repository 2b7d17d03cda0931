"""The visitor widget's server side: the frame page, its CSP, the config endpoint and the visitor endpoints."""

from __future__ import annotations

import json

import pytest

from apps.channels import services
from apps.channels.models import ChannelKind
from apps.conversations.models import Rating
from apps.conversations.services import conversation_assign
from apps.customers.models import Customer
from apps.messaging.visitor import visitor_token_issue
from apps.routing.intake import conversation_intake

SHOP = "https://shop.example.com"


@pytest.fixture
def web_channel(org_a):
    return services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="官网",
        kind=ChannelKind.WEB,
        allowed_origins=[SHOP + "/"],
        greeting="您好！",
        config={"prechat_fields": ["name", "phone", "bogus"]},
    )


def _busy(agent):
    """Logged in but not taking new chats: dispatch leaves the queue alone, the test assigns by hand."""
    from apps.accounts.models import User

    User.objects.filter(pk=agent.pk).update(status="busy")


def _visitor(channel, customer=None):
    customer = customer or Customer.objects.create(tenant_id=channel.tenant_id)
    token, _exp = visitor_token_issue(tenant_id=channel.tenant_id, channel_id=channel.pk, customer_id=customer.pk)
    return customer, {"HTTP_AUTHORIZATION": f"Visitor {token}"}


@pytest.mark.smoke
def test_frame_may_only_be_framed_by_allowed_origins(client, web_channel):
    response = client.get("/widget/frame/", {"channel": web_channel.key})
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example.com;" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "X-Frame-Options" not in response  # CSP decides, not the site-wide DENY
    html = response.content.decode()
    raw = html.split('<script id="kf-config" type="application/json">')[1].split("</script>")[0]
    config = json.loads(raw)
    assert config["greeting"] == "您好！" and config["channel"] == web_channel.key
    assert config["strings"]["send"] == "发送"  # translated, Chinese first


@pytest.mark.smoke
def test_frame_for_unknown_or_disabled_channel_is_404(client, web_channel):
    assert client.get("/widget/frame/", {"channel": "nope"}).status_code == 404
    services.channel_set_enabled(channel=web_channel, enabled=False, actor=None)
    assert client.get("/widget/frame/", {"channel": web_channel.key}).status_code == 404


@pytest.mark.smoke
def test_company_name_is_escaped_in_the_frame(client, org_a, web_channel):
    org_a.tenant.name = '<img src=x onerror="alert(1)">'
    org_a.tenant.save()
    html = client.get("/widget/frame/", {"channel": web_channel.key}).content.decode()
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x" in html


@pytest.mark.smoke
def test_config_is_readable_cross_origin_only_by_allowed_sites(client, web_channel):
    ok = client.get("/api/v1/widget/config/", {"channel": web_channel.key}, HTTP_ORIGIN=SHOP)
    assert ok.status_code == 200 and ok["Access-Control-Allow-Origin"] == SHOP
    data = ok.json()
    assert data["company"]["name"] == web_channel.tenant.name
    assert data["prechat_fields"] == ["name", "phone"]  # unknown fields dropped
    evil = client.get("/api/v1/widget/config/", {"channel": web_channel.key}, HTTP_ORIGIN="https://evil.example")
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil
    assert evil.json()["error"]["code"] == "origin_not_allowed"


def test_visitor_session_refuses_a_page_on_a_non_allowed_origin(client, web_channel):
    bad = client.post(
        "/api/v1/visitor/sessions/",
        {"channel_key": web_channel.key},
        content_type="application/json",
        HTTP_ORIGIN="https://evil.example",
    )
    assert bad.status_code == 403
    good = client.post(
        "/api/v1/visitor/sessions/", {"channel_key": web_channel.key}, content_type="application/json", HTTP_ORIGIN=SHOP
    )
    assert good.status_code == 201


def test_widget_frame_origin_counts_as_allowed_only_for_our_own_origins(settings, web_channel):
    settings.KEFU_ORIGINS = ["https://kefu.example.cn"]
    assert web_channel.origin_allowed("https://kefu.example.cn")
    assert web_channel.origin_allowed("http://127.0.0.1:8000", own_origin="http://127.0.0.1:8000")
    assert web_channel.origin_allowed(SHOP)
    for look_alike in (
        "https://kefu.example.cn.evil.com",
        "https://kefu.example.cn:8443",
        "http://kefu.example.cn",
        "https://evil.example",
        "http://127.0.0.1:8000.evil.example.com",
    ):
        assert not web_channel.origin_allowed(look_alike, own_origin="http://127.0.0.1:8000"), look_alike


def test_queue_position_rating_and_prechat_for_the_visitor(client, org_a, web_channel):
    customer, auth = _visitor(web_channel)
    conversation = conversation_intake(channel=web_channel, customer=customer)
    queue = client.get(f"/api/v1/widget/conversations/{conversation.pk}/queue/", **auth).json()
    assert queue["status"] == "queued" and queue["position"] == 1
    assert queue["estimated_wait_seconds"] is None and queue["agents_online"] is False  # nobody to promise
    # Rating needs a served conversation.
    early = client.post(
        f"/api/v1/widget/conversations/{conversation.pk}/rating/", {"score": 5}, content_type="application/json", **auth
    )
    assert early.status_code == 409
    _busy(org_a.agent_sh)
    conversation_assign(conversation_id=conversation.pk, agent_id=org_a.agent_sh.pk, require_online=False)
    rated = client.post(
        f"/api/v1/widget/conversations/{conversation.pk}/rating/",
        {"score": 4, "tags": ["回复及时"], "comment": "不错"},
        content_type="application/json",
        **auth,
    )
    assert rated.status_code == 201, rated.content
    rating = Rating.objects.get(conversation=conversation)
    assert (rating.score, rating.tags, rating.comment, rating.agent_id) == (4, ["回复及时"], "不错", org_a.agent_sh.pk)
    profile = client.post(
        "/api/v1/widget/profile/", {"name": "李雷", "phone": "138 0013 8000"}, content_type="application/json", **auth
    )
    assert profile.status_code == 200
    customer.refresh_from_db()
    assert (customer.display_name, customer.phone) == ("李雷", "138 0013 8000")


def test_another_visitors_conversation_is_404(client, web_channel):
    other, _ = _visitor(web_channel)
    conversation = conversation_intake(channel=web_channel, customer=other)
    _me, auth = _visitor(web_channel)
    assert client.get(f"/api/v1/widget/conversations/{conversation.pk}/queue/", **auth).status_code == 404
    assert (
        client.post(
            f"/api/v1/widget/conversations/{conversation.pk}/rating/",
            {"score": 5},
            content_type="application/json",
            **auth,
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/widget/conversations/{conversation.pk}/queue/").status_code in (401, 403)


def test_leave_message_is_stored_for_the_channel(client, web_channel):
    from apps.routing.models import LeaveMessage

    customer, auth = _visitor(web_channel)
    bad = client.post(
        "/api/v1/widget/leave-message/", {"contact": "", "content": "x"}, content_type="application/json", **auth
    )
    assert bad.status_code == 400 and LeaveMessage.objects.count() == 0
    ok = client.post(
        "/api/v1/widget/leave-message/",
        {"name": "韩梅梅", "contact": "13900000000", "content": "明天上午再联系我"},
        content_type="application/json",
        **auth,
    )
    assert ok.status_code == 201
    note = LeaveMessage.objects.get()
    assert (note.channel_id, note.customer_id, note.content) == (web_channel.pk, customer.pk, "明天上午再联系我")


def test_demo_page_embeds_the_widget_script(client, org_a, web_channel, settings):
    from apps.channels.demo import DEMO_WEB_KEY, demo_channels
    from apps.tenants.models import Tenant

    # Another tenant's channel never gets a demo page (it would sign identities for anyone).
    assert client.get(f"/widget/demo/?channel={web_channel.key}&signed=1").status_code == 404
    demo = Tenant.objects.create(name="演示", slug="demo")
    demo_channels(tenant=demo, branches={})
    html = client.get("/widget/demo/").content.decode()
    assert f'src="/static/channels/widget.js" data-channel="{DEMO_WEB_KEY}"' in html
    signed = client.get(f"/widget/demo/?channel={web_channel.key}&signed=1").content.decode()
    assert "data-customer-signature=" in signed and web_channel.key not in signed
    settings.WIDGET_DEMO_ENABLED = False  # production settings
    assert client.get("/widget/demo/").status_code == 404
