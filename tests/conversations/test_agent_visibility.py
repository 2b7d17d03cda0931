"""Agents see what they work on even when it sits outside their branch subtree (a skill group
spanning branches, a queue on an ancestor branch they may take from), and nothing else."""

from __future__ import annotations

import pytest

from apps.accounts.models import SkillGroup
from apps.conversations.models import Conversation, ConversationStatus
from apps.routing.models import RoutingRule

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


def test_skill_group_member_in_another_branch_sees_their_conversation_through_the_apis(dispatch, api_client):
    org = dispatch.org
    group = SkillGroup.objects.create(tenant=org.tenant, name="refunds")
    member = dispatch.agent(org.south, cap=5)
    group.members.add(member)
    RoutingRule.objects.create(tenant=org.tenant, name="refund", keywords="退款", target_skill_group=group)
    conversation = dispatch.start(subject="我要退款")  # channel of Shanghai, agent of South
    assert conversation.assignee_id == member.pk
    assert not conversation.branch.path.startswith(member.branch.path)
    api_client.force_authenticate(member)
    mine = api_client.get("/api/v1/conversations/mine/").json()
    rows = mine["results"] if isinstance(mine, dict) and "results" in mine else mine
    assert conversation.pk in {row["id"] for row in rows}
    assert api_client.get(f"/api/v1/im/conversations/{conversation.pk}/messages/").status_code == 200
    # A South colleague outside the group sees nothing of it.
    colleague = dispatch.agent(org.south, cap=5, online=False)
    api_client.force_authenticate(colleague)
    assert api_client.get(f"/api/v1/im/conversations/{conversation.pk}/messages/").status_code == 404


def test_agent_sees_the_queue_on_an_ancestor_branch_but_not_others_chats_there(dispatch):
    org = dispatch.org
    hq_channel = dispatch.make_channel(org.hq)
    hq_agent = dispatch.agent(org.hq, cap=1)
    taken = dispatch.start(channel=hq_channel)
    assert taken.assignee_id == hq_agent.pk
    waiting = dispatch.start(channel=hq_channel)
    assert waiting.status == ConversationStatus.QUEUED
    sh_agent = dispatch.agent(org.sh, online=False)
    visible = set(Conversation.objects.visible_to(sh_agent).values_list("pk", flat=True))
    assert taken.pk not in visible
    assert (waiting.pk in visible) == Conversation.objects.filter(
        pk=waiting.pk, reach_path__in=["", org.hq.path]
    ).exists()


def test_the_agent_is_told_live_when_the_visitor_rates(dispatch, monkeypatch):
    from apps.conversations import services as conv_services
    from apps.messaging import publish as publish_module

    agent = dispatch.agent(dispatch.org.sh)
    conversation = dispatch.start()
    sent = []
    monkeypatch.setattr(publish_module, "_send", lambda groups, event: sent.append((groups, event)))
    conv_services.rating_submit(conversation_id=conversation.pk, customer=conversation.customer, score=4)
    rated = [(g, e) for g, e in sent if e["type"] == "conversation.rated"]
    assert len(rated) == 1
    assert f"t{conversation.tenant_id}.agent.{agent.pk}" in rated[0][0]
    assert rated[0][1]["score"] == 4
