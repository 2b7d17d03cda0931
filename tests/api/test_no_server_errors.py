"""Every server error found in the audit (issue 13) is a clear 4xx in the user's language."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.conversations.models import Conversation
from apps.customers.models import Customer
from tests.conftest import PASSWORD

HUGE = "9" * 30


@pytest.fixture
def conversation(org_a):
    from apps.channels.models import Channel

    channel = Channel.objects.create(tenant=org_a.tenant, name="web", branch=org_a.sh)
    customer = Customer.objects.create(tenant=org_a.tenant, display_name="v")
    return Conversation.objects.create(
        tenant=org_a.tenant,
        channel=channel,
        customer=customer,
        branch=org_a.sh,
        status="active",
        assignee=org_a.agent_sh,
    )


def _client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.login(username=user.username, password=PASSWORD)
    return client


def _clear_4xx(response, *statuses):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if statuses:
        assert response.status_code in statuses, response.status_code
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert body["error"]["code"] and body["error"]["message"], body


def test_options_on_conversation_actions(org_a, conversation):
    agent = _client(org_a.agent_sh)
    for action in ("accept", "close", "invite-rating", "tags", "transfer"):
        response = agent.options(f"/api/v1/conversations/{conversation.pk}/{action}/")
        assert response.status_code in (200, 405), (action, response.status_code)
    for action in ("accept", "decline"):
        response = agent.options(f"/api/v1/transfers/1/{action}/")
        assert response.status_code in (200, 404, 405), (action, response.status_code)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/",
        "/api/v1/branches/",
        "/api/v1/skill-groups/",
        "/api/v1/conversations/queue/",
        "/api/v1/kb/entries/",
    ],
)
@pytest.mark.parametrize("query", [f"limit={HUGE}", f"offset={HUGE}", "limit=-1", "offset=abc", "limit=abc"])
def test_pagination_parameters(org_a, path, query):
    response = _client(org_a.sup_east).get(f"{path}?{query}")
    assert response.status_code in (200, 400), (path, query, response.status_code)
    if response.status_code == 400:
        _clear_4xx(response)


def test_huge_integers_in_filters_and_members(org_a):
    sup = _client(org_a.sup_east)
    for query in (f"channel={HUGE}", f"agent={HUGE}", f"branch={HUGE}", f"tag={HUGE}"):
        response = sup.get(f"/api/v1/workbench/history/?{query}")
        assert response.status_code in (200, 400, 404), (query, response.status_code)
    from apps.accounts.models import SkillGroup

    group = SkillGroup.objects.create(tenant=org_a.tenant, name="g1", branch=org_a.east)
    for members in ([int(HUGE)], [-1], ["x"]):
        response = sup.post(
            f"/api/v1/skill-groups/{group.pk}/members/", {"members": members}, content_type="application/json"
        )
        _clear_4xx(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workbench/history/?from=2026-13-45",
        "/api/v1/workbench/stats/?from=2026-13-45",
        "/api/v1/workbench/history/?offset=-1",
        "/api/v1/workbench/history/?limit=-5",
        "/api/v1/workbench/history/?to=9999-12-31",
        "/api/v1/workbench/stats/?to=9999-12-31",
        "/supervisor/history/?date_to=9999-12-31",
        "/supervisor/history/?to=9999-12-31",
        "/supervisor/reports/?to=9999-12-31",
        "/supervisor/reports/?from=2026-13-45",
    ],
)
def test_impossible_dates_and_negative_pages(org_a, path):
    client = _client(org_a.agent_sh if "workbench" in path else org_a.sup_east)
    response = client.get(path)
    assert response.status_code < 500, (path, response.status_code)


def test_export_with_an_impossible_date(org_a):
    response = _client(org_a.sup_east).post(
        "/api/v1/exports/", {"filters": {"date_to": "9999-12-31"}}, content_type="application/json"
    )
    _clear_4xx(response, 400)


def test_duplicate_conversation_tag_name(org_a):
    admin = _client(org_a.admin)
    from apps.conversations.models import ConversationTag

    ConversationTag.objects.create(tenant=org_a.tenant, name="投诉")
    response = admin.post(
        "/manage/conversations/conversationtag/add/", {"name": "投诉", "color": "#ff0000", "is_enabled": "on"}
    )
    assert response.status_code == 200 and ConversationTag.objects.filter(name="投诉").count() == 1


def test_supervisor_opens_a_tenant_wide_channel_in_the_back_office(org_a):
    from apps.channels.models import Channel

    channel = Channel.objects.create(tenant=org_a.tenant, name="tenant-wide", kind="web", branch=None)
    response = _client(org_a.sup_east).get(f"/manage/kf_channels/channel/{channel.pk}/change/")
    assert response.status_code in (200, 302, 403, 404), response.status_code
