"""Proactive invitations: agents and company rules invite browsing visitors; caps, quiet hours and
RE2 patterns; accepting starts a conversation for the inviting agent; reports count them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from apps.accounts.services import agent_set_status
from apps.channels import services as channel_services
from apps.conversations.models import Conversation
from apps.core.errors import ApplicationError
from apps.visitors import invitations
from apps.visitors.models import Invitation, InvitationRule, InvitationSettings, Visit

SITE = "https://www.sf-demo.example"
KEY = "v-0123456789abcdef0123"
T0 = dt.datetime(2026, 5, 4, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


@pytest.fixture
def web(org_a):
    return channel_services.channel_create(
        tenant=org_a.tenant, actor=org_a.admin, name="上海官网", kind="web", branch=org_a.sh, allowed_origins=[SITE]
    )


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def track(client, channel, event="page", *, key=KEY, **fields):
    response = client.post(
        "/api/v1/visitors/track/",
        data=json.dumps({"channel": channel.key, "visitor": key, "event": event, **fields}),
        content_type="text/plain",
        HTTP_ORIGIN=SITE,
    )
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 else None


def rule(org, **fields):
    return invitations.rule_save(
        rule=InvitationRule(tenant=org.tenant, name=fields.pop("name", "规则"), message="需要帮忙吗？", **fields),
        actor=org.admin,
    )


def session_for(client, channel):
    return client.post(
        "/api/v1/visitor/sessions/",
        data={"channel_key": channel.key},
        content_type="application/json",
        HTTP_ORIGIN=SITE,
    ).json()


def accept(client, channel, invitation_id, key=KEY):
    token = session_for(client, channel)["token"]
    return client.post(
        f"/api/v1/visitors/invitations/{invitation_id}/accept/",
        data={"visitor": key},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Visitor {token}",
    )


@pytest.mark.smoke
def test_rule_invites_after_time_on_a_matching_page_once_per_visit(client, web, org_a, clock):
    rule(org_a, trigger="page_time", url_pattern=r"/price", seconds=8)
    first = track(client, web, url=f"{SITE}/price", title="价格")
    assert first["invitation"] is None and first["ping_seconds"] == 9  # the widget comes back in time
    clock.shift(5)
    assert track(client, web, "ping")["invitation"] is None
    clock.shift(4)
    shown = track(client, web, "ping")["invitation"]
    assert shown["message"] == "需要帮忙吗？" and shown["from"] == org_a.tenant.name
    assert track(client, web, "ping")["invitation"]["id"] == shown["id"]  # still open: the same one
    track(client, web, "decline", invitation=shown["id"])
    clock.shift(60)
    assert track(client, web, "ping")["invitation"] is None  # a rule fires once per visit
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.branch_id, invitation.rule.name) == ("declined", org_a.sh.pk, "规则")
    # Another page that does not match never fires it.
    assert track(client, web, url=f"{SITE}/about", key="w" * 20)["invitation"] is None


def test_nth_visit_and_referrer_rules(client, web, org_a, clock):
    rule(org_a, name="回访", trigger="visit_number", visit_number=2)
    rule(org_a, name="百度", trigger="referrer", referrer_pattern=r"baidu\.com")
    assert track(client, web, url=f"{SITE}/")["invitation"] is None
    clock.shift(dt.timedelta(hours=2))
    assert track(client, web, url=f"{SITE}/")["invitation"]["message"] == "需要帮忙吗？"
    other = track(client, web, key="b" * 20, url=f"{SITE}/", referrer="https://www.baidu.com/s?wd=快递")
    assert other["invitation"] is not None
    assert sorted(Invitation.objects.values_list("rule__name", flat=True)) == ["回访", "百度"]


def test_daily_cap_and_quiet_hours_in_the_companys_time(client, web, org_a, clock):
    InvitationSettings.objects.create(tenant=org_a.tenant, daily_cap=1, quiet_start=dt.time(22), quiet_end=dt.time(8))
    rule(org_a, name="A", trigger="page_time", seconds=0, url_pattern="/a")
    rule(org_a, name="B", trigger="page_time", seconds=0, url_pattern="/b")
    shown = track(client, web, url=f"{SITE}/a")["invitation"]
    track(client, web, "decline", invitation=shown["id"])
    assert track(client, web, url=f"{SITE}/b")["invitation"] is None  # one a day
    clock.move_to(dt.datetime(2026, 5, 4, 15, 30, tzinfo=dt.UTC))  # 23:30 in Shanghai: quiet
    assert track(client, web, url=f"{SITE}/b", key="q" * 20)["invitation"] is None
    clock.move_to(dt.datetime(2026, 5, 5, 1, 0, tzinfo=dt.UTC))  # 09:00 the next day
    assert track(client, web, url=f"{SITE}/b")["invitation"] is not None


def test_patterns_run_on_re2_and_unsafe_ones_are_refused_at_save(org_a, client):
    with pytest.raises(ApplicationError) as exc:
        rule(org_a, trigger="page_time", url_pattern=r"(?<=shop)/price")
    assert exc.value.code == "invalid_pattern"
    # A pattern that backtracks catastrophically elsewhere is linear on RE2.
    saved = rule(org_a, trigger="page_time", url_pattern=r"(a+)+$")
    assert invitations._matches(saved.url_pattern, "https://x/" + "a" * 5000 + "!") is False
    client.force_login(org_a.admin)
    form = client.post(
        "/manage/visitors/invitationrule/add/",
        {
            "name": "坏",
            "trigger": "referrer",
            "referrer_pattern": r"(\w)\1",
            "message": "你好",
            "seconds": 30,
            "visit_number": 2,
            "is_enabled": "on",
            "sort_order": 0,
        },
    )
    assert form.status_code == 200 and "errorlist" in form.content.decode()
    assert not InvitationRule.objects.filter(name="坏").exists()


def test_agent_invites_and_the_answer_is_their_conversation(
    client, web, org_a, clock, django_capture_on_commit_callbacks
):
    track(client, web, url=f"{SITE}/price", title="价格")
    visit = Visit.objects.get()
    agent = org_a.agent_sh
    with django_capture_on_commit_callbacks(execute=True):
        agent_set_status(agent=agent, status="online")
    client.force_login(agent)
    invited = client.post(f"/api/v1/visitors/{visit.pk}/invite/", {"message": "您好，我是小王"}, "application/json")
    assert invited.status_code == 201
    again = client.post(f"/api/v1/visitors/{visit.pk}/invite/", {}, "application/json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_invited"
    client.logout()
    shown = track(client, web, "ping")["invitation"]
    assert (shown["message"], shown["from"]) == ("您好，我是小王", agent.name)
    with django_capture_on_commit_callbacks(execute=True):
        answered = accept(client, web, shown["id"])
    assert answered.status_code == 200, answered.content
    conversation = Conversation.objects.get(pk=answered.json()["conversation"]["id"])
    assert conversation.assignee_id == agent.pk and conversation.status == "active"
    opening = conversation.messages.exclude(sender_kind="system").get()  # beside "…为您服务"
    assert (opening.sender_kind, opening.sender_user_id, opening.body) == ("agent", agent.pk, "您好，我是小王")
    # Answering twice returns the same conversation.
    assert accept(client, web, shown["id"]).json()["conversation"]["id"] == conversation.pk
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.agent_id, invitation.branch_id) == ("accepted", agent.pk, org_a.sh.pk)
    assert Visit.objects.get().customer_id == conversation.customer_id
    # The report: one sent, shown, accepted and converted, by an agent, in Shanghai.
    client.force_login(org_a.sup_east)
    report = client.get("/api/v1/visitors/invitations/report/", {"from": "2026-05-04", "to": "2026-05-04"}).json()
    assert report["rows"] == [
        {
            "rule_id": None,
            "rule": "",
            "branch_id": org_a.sh.pk,
            "branch": "Shanghai",
            "sent": 1,
            "shown": 1,
            "accepted": 1,
            "converted": 1,
        }
    ]
    client.force_login(org_a.sup_south)
    assert client.get("/api/v1/visitors/invitations/report/").json()["rows"] == []
    client.force_login(agent)
    assert client.get("/api/v1/visitors/invitations/report/").status_code == 403


def test_a_rules_invitation_is_routed_and_counted_as_converted_when_served(
    client, web, org_a, clock, django_capture_on_commit_callbacks
):
    rule(org_a, name="价格页", trigger="page_time", seconds=0, url_pattern="/price")
    shown = track(client, web, url=f"{SITE}/price")["invitation"]
    with django_capture_on_commit_callbacks(execute=True):
        conversation_id = accept(client, web, shown["id"]).json()["conversation"]["id"]
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "queued" and conversation.assignee_id is None  # nobody online: it waits
    assert conversation.messages.get().sender_kind == "system"
    with django_capture_on_commit_callbacks(execute=True):
        agent_set_status(agent=org_a.agent_sh, status="online")  # dispatch gives it to the agent
    client.force_login(org_a.admin)
    page = client.get("/supervisor/invitations/", {"from": "2026-05-04", "to": "2026-05-04"})
    rows = page.context["report"]["rows"]
    assert [(r["rule"], r["sent"], r["accepted"], r["converted"]) for r in rows] == [("价格页", 1, 1, 1)]
    assert client.get("/supervisor/invitations/", {"from": "2026-13-45"}).status_code == 400


def test_invitations_respect_reach_presence_and_chatting(client, web, org_a, org_b, clock):
    track(client, web, url=f"{SITE}/")
    visit = Visit.objects.get()
    for user in (org_a.agent_south, org_b.admin):
        client.force_login(user)
        assert client.post(f"/api/v1/visitors/{visit.pk}/invite/", {}, "application/json").status_code == 404
    client.force_login(org_a.agent_sh)
    clock.shift(dt.timedelta(minutes=2))  # no ping since: gone
    gone = client.post(f"/api/v1/visitors/{visit.pk}/invite/", {}, "application/json")
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "visitor_gone"
    # A foreign key or id cannot answer someone else's invitation.
    track(client, web, url=f"{SITE}/b")
    invited = client.post(f"/api/v1/visitors/{visit.pk}/invite/", {}, "application/json").json()
    client.logout()
    assert accept(client, web, invited["id"], key="x" * 20).status_code == 404


def test_supervisors_write_rules_for_their_own_branches_sites_only(client, org_a, web):
    south = channel_services.channel_create(
        tenant=org_a.tenant, actor=org_a.admin, name="华南官网", kind="web", branch=org_a.south, allowed_origins=[SITE]
    )
    form = {
        "name": "价格页",
        "trigger": "page_time",
        "url_pattern": "/price",
        "seconds": 30,
        "visit_number": 2,
        "message": "需要帮忙吗？",
        "is_enabled": "on",
        "sort_order": 0,
    }
    client.force_login(org_a.sup_east)
    add = "/manage/visitors/invitationrule/add/"
    assert client.post(add, {**form, "channel": ""}).status_code == 200  # company-wide: refused
    assert client.post(add, {**form, "channel": south.pk}).status_code == 200  # another branch's site
    assert client.post(add, {**form, "channel": web.pk}).status_code == 302
    rule = InvitationRule.objects.get()
    assert rule.channel_id == web.pk and rule.tenant_id == org_a.tenant.pk
    theirs = invitations.rule_save(
        rule=InvitationRule(tenant=org_a.tenant, name="华南", channel=south, message="您好"), actor=org_a.admin
    )
    assert client.get(f"/manage/visitors/invitationrule/{theirs.pk}/change/").status_code == 404
