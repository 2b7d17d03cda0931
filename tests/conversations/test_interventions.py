"""Nobody is stranded: take over needs a status that can serve, supervisors hand back, whoever
holds a conversation going offline returns it to the queue (the visitor is told), transfers go
only to who can take it, and customers are named like people."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus, Role, SkillGroup
from apps.conversations import interventions, selectors
from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationStatus
from apps.core.errors import ApplicationError
from apps.messaging.models import Message
from apps.routing import services as routing_services

pytestmark = [pytest.mark.django_db(transaction=True)]


def _notices(conv) -> list[str]:
    return list(
        Message.objects.filter(conversation=conv, sender_kind="system").order_by("seq").values_list("body", flat=True)
    )


def _disconnect_past_grace(dispatch, agent) -> None:
    dispatch.settings(presence_grace_seconds=60)
    routing_services.presence_connection_changed(agent=agent, channel_name="ws.1", connected=True)
    routing_services.presence_connection_changed(agent=agent, channel_name="ws.1", connected=False)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        assert routing_services.agent_presence_check(agent_id=agent.pk) is True


def test_assignment_tells_the_visitor_who_serves_them_in_the_conversation(dispatch):
    agent = dispatch.agent(dispatch.org.sh)
    conv = dispatch.start()
    assert conv.assignee_id == agent.pk
    assert _notices(conv) == [f"{agent.name} 为您服务。"]
    conv.refresh_from_db()
    assert conv.last_message_preview == ""  # a notice is not the conversation's last word


def test_agent_gone_offline_past_the_grace_period_returns_conversations_to_the_queue(dispatch):
    gone = dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    assert conv.assignee_id == gone.pk
    _disconnect_past_grace(dispatch, gone)
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.QUEUED and conv.assignee_id is None
    assert _notices(conv)[-1] == "客服已离开，正在为您重新排队，请稍候。"
    # The next agent to come online gets it, and the visitor is told that too.
    nxt = dispatch.agent(dispatch.org.sh)
    conv.refresh_from_db()
    assert conv.assignee_id == nxt.pk and _notices(conv)[-1] == f"{nxt.name} 为您服务。"


def test_a_supervisor_who_took_over_invisibly_and_left_does_not_strand_the_visitor(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    sup = dispatch.org.sup_east
    account_services.agent_set_status(agent=sup, status=AgentStatus.INVISIBLE)
    interventions.intervention_take_over(actor=sup, conversation_id=conv.pk)
    sup.refresh_from_db()
    conv.refresh_from_db()
    assert conv.assignee_id == sup.pk
    assert sup.status == AgentStatus.BUSY  # serving and visible; dispatch gives them nothing new
    assert _notices(conv)[-1] == f"{sup.name} 为您服务。"
    _disconnect_past_grace(dispatch, sup)
    conv.refresh_from_db()
    # Back in the queue, and the agent who is still online takes it again.
    assert conv.status == ConversationStatus.ACTIVE and conv.assignee_id == agent.pk


def test_take_over_to_someone_who_cannot_serve_is_refused_with_the_reason(dispatch):
    dispatch.agent(dispatch.org.sh, cap=2)
    conv = dispatch.start()
    offline = dispatch.agent(dispatch.org.pd, online=False)
    with pytest.raises(ApplicationError) as exc:
        interventions.intervention_take_over(actor=dispatch.org.sup_east, conversation_id=conv.pk, agent_id=offline.pk)
    assert exc.value.code == "agent_unavailable" and "离线" in str(exc.value.message)
    full = dispatch.agent(dispatch.org.pd, cap=0, status="busy")
    with pytest.raises(ApplicationError) as exc:
        interventions.intervention_take_over(actor=dispatch.org.sup_east, conversation_id=conv.pk, agent_id=full.pk)
    assert exc.value.code == "agent_full"


def test_supervisor_hands_back_to_the_queue_and_to_an_agent(dispatch):
    first = dispatch.agent(dispatch.org.sh, cap=1)
    conv = dispatch.start()
    sup = dispatch.org.sup_east
    interventions.intervention_take_over(actor=sup, conversation_id=conv.pk)
    # Back to the queue: the first agent has a free seat again and gets it.
    interventions.intervention_hand_back(actor=sup, conversation_id=conv.pk)
    conv.refresh_from_db()
    assert conv.assignee_id == first.pk and conv.status == ConversationStatus.ACTIVE
    assert "正在为您转接其他客服，请稍候。" in _notices(conv)
    # Or straight to a named agent who can serve.
    other = dispatch.agent(dispatch.org.pd, cap=2, status="busy")
    interventions.intervention_take_over(actor=sup, conversation_id=conv.pk, agent_id=other.pk)
    assert Conversation.objects.get(pk=conv.pk).assignee_id == other.pk


def test_transfer_targets_show_live_status_and_load_and_refuse_offline_agents(dispatch):
    sender = dispatch.agent(dispatch.org.sh, cap=3)
    conv = dispatch.start()
    ready = dispatch.agent(dispatch.org.sh, cap=2, status="busy")
    offline = dispatch.agent(dispatch.org.pd, online=False)
    group = SkillGroup.objects.create(tenant=dispatch.org.tenant, name="投诉处理")
    group.members.add(offline)
    targets = selectors.transfer_targets(actor=sender, conversation=conv)
    by_id = {a["id"]: a for a in targets["agents"]}
    assert by_id[ready.pk]["available"] and by_id[ready.pk]["load"] == 0 and by_id[ready.pk]["max_chats"] == 2
    assert not by_id[offline.pk]["available"] and "离线" in by_id[offline.pk]["reason"]
    assert dispatch.org.sup_east.pk not in by_id  # supervisors only while they serve
    assert sender.pk not in by_id
    assert {"name": "投诉处理", "members": 1, "available_members": 0, "free_seats": 0}.items() <= next(
        g for g in targets["skill_groups"] if g["id"] == group.pk
    ).items()
    with pytest.raises(ApplicationError) as exc:
        conv_services.conversation_transfer_request(conversation_id=conv.pk, actor=sender, to_agent_id=offline.pk)
    assert exc.value.code == "agent_unavailable" and exc.value.status_code == 409
    with pytest.raises(ApplicationError) as exc:
        conv_services.conversation_transfer_request(conversation_id=conv.pk, actor=sender, to_skill_group_id=group.pk)
    assert exc.value.code == "skill_group_unavailable"
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.ACTIVE  # nothing changed

    # Offered instead: the queue of that group. The visitor waits there and a member takes it.
    conv_services.conversation_transfer_to_queue(conversation_id=conv.pk, actor=sender, skill_group_id=group.pk)
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.QUEUED and conv.skill_group_id == group.pk
    account_services.agent_set_status(agent=offline, status=AgentStatus.ONLINE)
    assert Conversation.objects.get(pk=conv.pk).assignee_id == offline.pk  # not the sender, not `ready`


def test_transfer_returning_to_an_agent_who_went_offline_goes_to_the_queue(dispatch):
    sender = dispatch.agent(dispatch.org.sh, cap=1)
    conv = dispatch.start()
    receiver = dispatch.agent(dispatch.org.pd, cap=1, status="busy")
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk
    )
    _disconnect_past_grace(dispatch, sender)
    assert Conversation.objects.get(pk=conv.pk).status == ConversationStatus.TRANSFER_PENDING
    conv_services.conversation_transfer_decline(transfer_id=transfer.pk, actor=receiver)
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.QUEUED and conv.assignee_id is None


def test_customers_are_named_by_nickname_name_or_masked_phone_never_an_id(dispatch):
    from apps.customers.models import Customer

    tenant = dispatch.org.tenant
    assert str(Customer.objects.create(tenant=tenant, display_name="王先生", phone="13812345678")) == "王先生"
    assert str(Customer.objects.create(tenant=tenant, captured={"name": "李女士"})) == "李女士"
    assert str(Customer.objects.create(tenant=tenant, phone="13812345678")) == "138****5678"
    anonymous = Customer.objects.create(tenant=tenant)
    label = str(anonymous)
    assert label.startswith("访客 ") and str(anonymous.pk) not in label.split(" ")[1]
    assert str(Customer.objects.get(pk=anonymous.pk)) == label  # stable


def test_roles_other_than_staff_cannot_take_over(dispatch):
    dispatch.agent(dispatch.org.sh)
    conv = dispatch.start()
    with pytest.raises(ApplicationError):
        interventions.intervention_take_over(
            actor=dispatch.org.sup_east,
            conversation_id=conv.pk,
            agent_id=dispatch.org.user("adm2", Role.SUPER_ADMIN, dispatch.org.hq).pk,
        )
