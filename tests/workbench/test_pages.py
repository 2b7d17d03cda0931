import json
import re
import zoneinfo
from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from apps.accounts.models import AgentStatus
from apps.conversations.models import Rating
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

XSS_NAME = '<script>alert("name")</script>'
XSS_BODY = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_agent_lands_on_the_workbench_after_login_and_starts_invisible(client, org_a):
    agent = org_a.agent_sh
    assert agent.status == AgentStatus.OFFLINE
    resp = client.post("/accounts/login/", {"username": agent.username, "password": PASSWORD})
    assert resp.status_code == 302
    resp = client.get("/")
    assert resp.status_code == 302 and resp["Location"] == "/workbench/"
    agent.refresh_from_db()
    assert agent.status == AgentStatus.INVISIBLE
    page = client.get("/workbench/")
    assert page.status_code == 200
    boot = json.loads(
        re.search(
            r'<script id="wb-bootstrap" type="application/json">(.*?)</script>', page.content.decode(), re.S
        ).group(1)
    )
    assert boot["me"]["status"] == "invisible" and boot["me"]["id"] == agent.pk


def test_workbench_needs_login_and_an_agent_role(client, org_a):
    assert client.get("/workbench/").status_code == 302
    client.force_login(org_a.admin)  # super admin: the back office is theirs, not the workbench
    assert client.get("/workbench/").status_code == 404


def test_workbench_is_chinese_first_and_switches_to_english(client, org_a):
    client.force_login(org_a.agent_sh)
    body = client.get("/workbench/").content.decode()
    assert "等待队列" in body and "我的会话" in body
    client.post("/i18n/setlang/", {"language": "en", "next": "/workbench/"})
    body = client.get("/workbench/").content.decode()
    assert "Waiting queue" in body and "My conversations" in body
    js = client.get("/workbench/jsi18n/").content.decode()
    assert "catalog" in js


def test_bootstrap_lists_my_conversations_with_unread_counts_and_the_queue(client, fa, org_a):
    mine = fa.conversation(agent=org_a.agent_sh, name="甲")
    fa.visitor_says(mine, "一")
    fa.visitor_says(mine, "二")
    fa.conversation(agent=org_a.agent_pd, name="乙")  # someone else's
    queued = fa.conversation(name="丙")
    client.force_login(org_a.agent_sh)
    page = client.get("/workbench/").content.decode()
    boot = json.loads(
        re.search(r'<script id="wb-bootstrap" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    assert [(c["id"], c["unread"]) for c in boot["conversations"]] == [(mine.pk, 2)]
    assert [c["id"] for c in boot["queue"]] == [queued.pk]


def test_bootstrap_escapes_html_in_customer_names(client, fa, org_a):
    fa.conversation(agent=org_a.agent_sh, name=XSS_NAME)
    client.force_login(org_a.agent_sh)
    page = client.get("/workbench/").content.decode()
    assert XSS_NAME not in page
    assert "\\u003Cscript\\u003E" in page


def test_transcript_shows_html_and_script_as_text(client, fa, org_a):
    conv = fa.conversation(agent=org_a.agent_sh, name=XSS_NAME)
    fa.visitor_says(conv, XSS_BODY)
    fa.agent_says(conv, org_a.agent_sh, "<b>bold?</b>")
    fa.close(conv)
    client.force_login(org_a.agent_sh)
    body = client.get(f"/workbench/history/{conv.pk}/").content.decode()
    assert XSS_BODY not in body and "<b>bold?</b>" not in body and XSS_NAME not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in body
    assert "&lt;b&gt;bold?&lt;/b&gt;" in body
    listing = client.get("/workbench/history/").content.decode()
    assert XSS_NAME not in listing and "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in listing


# Just before and after midnight in Shanghai, and in 16:00-24:00 UTC (the UTC date is not the tenant's).
INSTANTS = ["2026-03-09T15:58:00+00:00", "2026-03-09T16:02:00+00:00", "2026-03-09T20:30:00+00:00"]


@pytest.mark.parametrize("instant", INSTANTS)
def test_history_page_filters_by_nickname_channel_satisfaction_and_date(client, fa, org_a, instant):
    with time_machine.travel(datetime.fromisoformat(instant), tick=False):
        _history_page_filters(client, fa, org_a)


def _history_page_filters(client, fa, org_a):
    agent = org_a.agent_sh
    a = fa.close(fa.conversation(agent=agent, name="王小明"))
    b = fa.close(fa.conversation(agent=agent, name="李雷", channel=fa.app_channel))
    Rating.objects.create(tenant=org_a.tenant, conversation=b, score=5, agent=agent)
    fa.close(fa.conversation(agent=org_a.agent_pd, name="王别人"))  # not mine
    fa.conversation(agent=agent, name="王进行中")  # still open: not history
    client.force_login(agent)

    def ids(**params):
        html = client.get("/workbench/history/", params).content.decode()
        return sorted(int(x) for x in re.findall(r'<tr data-id="(\d+)"', html))

    assert ids() == sorted([a.pk, b.pk])
    assert ids(nickname="王") == [a.pk]
    assert ids(channel=fa.app_channel.pk) == [b.pk]
    assert ids(satisfaction="5") == [b.pk]
    assert ids(satisfaction="none") == [a.pk]
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(org_a.tenant.timezone)).date().isoformat()
    assert ids(**{"from": today, "to": today}) == sorted([a.pk, b.pk])
    assert ids(**{"from": "2020-01-01", "to": "2020-01-02"}) == []
    resp = client.get("/workbench/history/", {"from": "yesterday"})
    assert resp.status_code == 200 and "2026-01-31" in resp.content.decode()  # the clear error, shown in the page


def test_history_api_rejects_bad_filters_with_a_clear_400(api_client, org_a):
    api_client.force_login(org_a.agent_sh)
    resp = api_client.get("/api/v1/workbench/history/", {"satisfaction": "great"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_filter"
    resp = api_client.get("/api/v1/workbench/history/", {"from": "2026-02-10", "to": "2026-02-01"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_range"
    assert api_client.get("/api/v1/workbench/history/", {"channel": "x"}).status_code == 400


def test_history_api_is_a_constant_number_of_queries(api_client, fa, org_a, django_assert_max_num_queries):
    for i in range(15):
        conv = fa.close(fa.conversation(agent=org_a.agent_sh, name=f"c{i}"))
        Rating.objects.create(tenant=org_a.tenant, conversation=conv, score=4, agent=org_a.agent_sh)
    api_client.force_login(org_a.agent_sh)
    with django_assert_max_num_queries(8):
        resp = api_client.get("/api/v1/workbench/history/")
    assert resp.json()["count"] == 15 and {r["score"] for r in resp.json()["results"]} == {4}


def test_transcript_of_a_conversation_i_never_served_is_404(client, api_client, fa, fb, org_a, org_b):
    other = fa.close(fa.conversation(agent=org_a.agent_pd))
    foreign = fb.close(fb.conversation(agent=org_b.agent_sh))
    client.force_login(org_a.agent_sh)
    assert client.get(f"/workbench/history/{other.pk}/").status_code == 404
    assert client.get(f"/workbench/history/{foreign.pk}/").status_code == 404
    api_client.force_login(org_a.agent_sh)
    assert api_client.get(f"/api/v1/workbench/history/{foreign.pk}/").status_code == 404
    assert api_client.get(f"/api/v1/workbench/conversations/{foreign.pk}/customer/").status_code == 404


def test_transferred_away_conversation_stays_in_my_history(client, fa, org_a):
    conv = fa.conversation(agent=org_a.agent_sh)
    fa.assign(conv, org_a.agent_pd)  # transferred
    fa.close(conv)
    client.force_login(org_a.agent_sh)
    assert f'<tr data-id="{conv.pk}"' in client.get("/workbench/history/").content.decode()
