"""The REST API the workbench uses: my conversations, the queue, accept, transfer, close with
tags, invite rating, dispatch settings; another tenant's ids answer 404 and change nothing."""

from __future__ import annotations

import pytest

from apps.accounts.models import AgentStatus
from apps.conversations.models import Conversation, ConversationStatus, ConversationTag, Transfer
from apps.routing.models import DispatchSettings
from tests.conftest import PASSWORD, Org

pytestmark = [pytest.mark.django_db(transaction=True)]


def _login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_agent_accepts_from_queue_and_sees_it_in_mine(dispatch, api_client):
    agent = dispatch.agent(dispatch.org.sh, cap=2, online=False)
    from apps.accounts.services import agent_set_status

    agent_set_status(agent=agent, status=AgentStatus.BUSY)  # busy: nothing is pushed, but may pick by hand
    conv = dispatch.start()
    assert conv.status == ConversationStatus.QUEUED
    _login(api_client, agent)
    queue = api_client.get("/api/v1/conversations/queue/").json()
    assert [r["id"] for r in queue["results"]] == [conv.pk] and queue["results"][0]["position"] == 1
    r = api_client.post(f"/api/v1/conversations/{conv.pk}/accept/")
    assert r.status_code == 200, r.content
    assert r.json()["assignee_id"] == agent.pk
    again = api_client.post(f"/api/v1/conversations/{conv.pk}/accept/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_waiting"
    mine = api_client.get("/api/v1/conversations/mine/").json()["results"]
    assert [c["id"] for c in mine] == [conv.pk]


def test_accept_beyond_the_limit_is_refused(dispatch, api_client):
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    dispatch.start()
    conv = dispatch.start()
    _login(api_client, agent)
    r = api_client.post(f"/api/v1/conversations/{conv.pk}/accept/")
    assert r.status_code == 409 and r.json()["error"]["code"] == "agent_full"
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.QUEUED


def test_close_with_tags_and_invite_rating(dispatch, api_client):
    agent = dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    tag = ConversationTag.objects.create(tenant=dispatch.org.tenant, name="物流")
    _login(api_client, agent)
    assert api_client.get("/api/v1/conversation-tags/").json()["results"][0]["name"] == "物流"
    assert api_client.post(f"/api/v1/conversations/{conv.pk}/invite-rating/").status_code == 200
    bad = api_client.post(f"/api/v1/conversations/{conv.pk}/close/", {"tags": [999999]}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_tag"
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.ACTIVE
    r = api_client.post(
        f"/api/v1/conversations/{conv.pk}/close/", {"tags": [tag.pk], "reason": "resolved"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "closed" and r.json()["tag_ids"] == [tag.pk]


def test_only_the_serving_agent_closes_an_active_conversation(dispatch, api_client):
    dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    colleague = dispatch.agent(dispatch.org.sh, cap=2)
    _login(api_client, colleague)
    r = api_client.post(f"/api/v1/conversations/{conv.pk}/close/", {}, format="json")
    # A colleague of the same branch is outside the access policy's reach: the same 404 as a
    # missing id (apps.conversations.policy).
    assert r.status_code == 404
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.ACTIVE


def test_transfer_request_and_accept_through_the_api(dispatch, api_client):
    sender = dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    receiver = dispatch.agent(dispatch.org.sh, cap=2, status="busy")
    _login(api_client, sender)
    r = api_client.post(
        f"/api/v1/conversations/{conv.pk}/transfer/", {"to_agent": receiver.pk, "note": "<b>vip</b>"}, format="json"
    )
    assert r.status_code == 201, r.content
    transfer_id = r.json()["id"]
    both = api_client.post(f"/api/v1/conversations/{conv.pk}/transfer/", {}, format="json")
    assert both.status_code in (400, 409)
    api_client.logout()
    _login(api_client, receiver)
    incoming = api_client.get("/api/v1/transfers/").json()["results"]
    assert [t["id"] for t in incoming] == [transfer_id]
    r = api_client.post(f"/api/v1/transfers/{transfer_id}/accept/")
    assert r.status_code == 200 and r.json()["assignee_id"] == receiver.pk


def test_dispatch_settings_switch_is_for_super_admins(dispatch, api_client):
    _login(api_client, dispatch.org.sup_east)
    assert api_client.get("/api/v1/routing/settings/").status_code == 200
    assert api_client.patch("/api/v1/routing/settings/", {"intake_paused": True}, format="json").status_code == 403
    api_client.logout()
    _login(api_client, dispatch.org.admin)
    r = api_client.patch("/api/v1/routing/settings/", {"intake_paused": True, "queue_cap": 10}, format="json")
    assert r.status_code == 200 and r.json()["intake_paused"] is True
    bad = api_client.patch("/api/v1/routing/settings/", {"queue_cap": -1}, format="json")
    assert bad.status_code == 400
    assert DispatchSettings.objects.get(tenant=dispatch.org.tenant).queue_cap == 10


def test_my_dispatch_state(dispatch, api_client):
    agent = dispatch.agent(dispatch.org.sh, cap=3)
    dispatch.start()
    _login(api_client, agent)
    assert api_client.get("/api/v1/routing/me/").json() == {
        "status": "online",
        "active_chats": 1,
        "max_chats": 3,
        "max_chats_cap": 3,
        "queue_length": 0,
    }


def test_another_tenants_conversations_are_not_found(dispatch, api_client):
    dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    sender = Conversation.objects.get(pk=conv.pk).assignee
    other = Org("zz")
    outsider = other.agent_sh
    _login(api_client, outsider)
    for method, url in [
        ("get", f"/api/v1/conversations/{conv.pk}/"),
        ("post", f"/api/v1/conversations/{conv.pk}/accept/"),
        ("post", f"/api/v1/conversations/{conv.pk}/close/"),
        ("post", f"/api/v1/conversations/{conv.pk}/tags/"),
        ("post", f"/api/v1/conversations/{conv.pk}/invite-rating/"),
        ("post", f"/api/v1/conversations/{conv.pk}/transfer/"),
        ("get", f"/api/v1/conversations/{conv.pk}/transfer-targets/"),
    ]:
        r = getattr(api_client, method)(url, {}, format="json")
        assert r.status_code == 404, (url, r.status_code)
    from apps.conversations.services import conversation_transfer_request

    receiver = dispatch.agent(dispatch.org.sh, cap=2, status="busy")
    transfer = conversation_transfer_request(conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk)
    assert api_client.post(f"/api/v1/transfers/{transfer.pk}/accept/").status_code == 404
    assert api_client.post(f"/api/v1/transfers/{transfer.pk}/decline/").status_code == 404
    assert Transfer.objects.get(pk=transfer.pk).status == "pending"
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.TRANSFER_PENDING
    assert api_client.get("/api/v1/conversations/queue/").json()["results"] == []
