"""Routing rules, strategies, sticky, overflow, the queue, capacity-driven assignment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus, Role, SkillGroup
from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationEvent, ConversationStatus
from apps.routing.intake import conversation_intake, conversation_intake_result
from apps.routing.models import AgentPresence, DispatchSettings, RoutingRule, Strategy
from apps.routing.selectors import dispatch_settings_forget

pytestmark = [pytest.mark.django_db(transaction=True)]


def _settings(org, **kw):
    DispatchSettings.objects.update_or_create(tenant=org.tenant, defaults=kw)
    dispatch_settings_forget()


def test_new_conversation_goes_to_the_least_busy_online_agent(dispatch):
    busy = dispatch.agent(dispatch.org.sh, cap=3)
    dispatch.start()  # -> busy (both idle, busy created first and never assigned: tie on pk)
    idle = dispatch.agent(dispatch.org.sh, cap=3)
    conv = dispatch.start()
    assert conv.assignee_id == idle.pk
    assert Conversation.objects.filter(assignee=busy).count() == 1


def test_agents_who_are_not_online_get_nothing(dispatch):
    away = dispatch.agent(dispatch.org.sh, cap=3)
    account_services.agent_set_status(agent=away, status=AgentStatus.AWAY)
    invisible = dispatch.agent(dispatch.org.sh, cap=3, online=False)
    account_services.agent_set_status(agent=invisible, status=AgentStatus.INVISIBLE)
    conv = dispatch.start()
    assert conv.status == ConversationStatus.QUEUED and conv.assignee_id is None


def test_round_robin_rotates_through_agents(dispatch):
    RoutingRule.objects.create(
        tenant=dispatch.org.tenant,
        name="rr",
        channel=dispatch.channel,
        target_branch=dispatch.org.sh,
        strategy=Strategy.ROUND_ROBIN,
        sticky=False,
    )
    agents = [dispatch.agent(dispatch.org.sh, cap=5) for _ in range(3)]
    order = [dispatch.start().assignee_id for _ in range(6)]
    assert order[:3] == [a.pk for a in agents]  # never-assigned agents first, then by last assignment
    assert order[3:] == order[:3]


def test_sticky_routing_returns_visitor_to_their_last_agent(dispatch):
    first = dispatch.agent(dispatch.org.sh, cap=5)
    visitor = dispatch.visitor()
    conv = dispatch.start(customer=visitor)
    assert conv.assignee_id == first.pk
    conv_services.conversation_close(conversation_id=conv.pk, actor=first)
    dispatch.start()  # someone else now occupies `first`, so least-busy alone would pick the other
    dispatch.agent(dispatch.org.sh, cap=5)
    again = dispatch.start(customer=visitor)
    assert again.assignee_id == first.pk


def test_sticky_falls_back_when_last_agent_is_away(dispatch):
    first = dispatch.agent(dispatch.org.sh, cap=5)
    visitor = dispatch.visitor()
    conv = dispatch.start(customer=visitor)
    conv_services.conversation_close(conversation_id=conv.pk, actor=first)
    account_services.agent_set_status(agent=first, status=AgentStatus.AWAY)
    other = dispatch.agent(dispatch.org.sh, cap=5)
    assert dispatch.start(customer=visitor).assignee_id == other.pk


def test_overflow_climbs_the_tree_level_by_level(dispatch):
    org = dispatch.org
    channel = dispatch.make_channel(org.pd)
    east_agent = dispatch.agent(org.east, cap=5)
    _settings(org, overflow_depth=2)
    conv = dispatch.start(channel=channel)
    # Pudong has nobody, Shanghai has nobody, East (two levels up) has an agent.
    assert conv.assignee_id == east_agent.pk
    assert conv.branch_id == org.east.pk
    event = ConversationEvent.objects.get(conversation=conv, kind="overflowed")
    assert event.data == {"from_branch_id": org.pd.pk, "to_branch_id": org.east.pk}
    # Once someone is online in Shanghai, Pudong's visitors stop at the first level.
    sh_agent = dispatch.agent(org.sh, cap=5)
    assert dispatch.start(channel=channel).assignee_id == sh_agent.pk


def test_overflow_stops_at_the_configured_depth_then_queues(dispatch):
    org = dispatch.org
    channel = dispatch.make_channel(org.pd)
    dispatch.agent(org.hq, cap=5)  # three levels up: out of reach with depth 1
    _settings(org, overflow_depth=1)
    conv = dispatch.start(channel=channel)
    assert conv.status == ConversationStatus.QUEUED
    assert conv.reach_path == org.sh.path
    # An agent coming online inside the reach takes it at once (event-driven, no sweep).
    sh_agent = dispatch.agent(org.sh, cap=5)
    conv.refresh_from_db()
    assert conv.assignee_id == sh_agent.pk


def test_rule_by_keyword_routes_to_skill_group(dispatch):
    org = dispatch.org
    group = SkillGroup.objects.create(tenant=org.tenant, name="refunds")
    member = dispatch.agent(org.south, cap=5)
    group.members.add(member)
    dispatch.agent(org.sh, cap=5)  # channel's own branch has an idle agent too
    RoutingRule.objects.create(tenant=org.tenant, name="refund", keywords="退款, refund", target_skill_group=group)
    conv = dispatch.start(subject="我要退款")
    assert conv.assignee_id == member.pk and conv.skill_group_id == group.pk
    other = dispatch.start(subject="hello")
    assert other.assignee_id != member.pk


def test_rule_by_visitor_attribute_routes_to_named_agents(dispatch):
    org = dispatch.org
    vip_agent = dispatch.agent(org.south, cap=5)
    dispatch.agent(org.sh, cap=5)
    rule = RoutingRule.objects.create(tenant=org.tenant, name="vip", attribute_conditions={"vip": True}, overflow=False)
    rule.target_agents.add(vip_agent)
    conv = dispatch.start(customer=dispatch.visitor(is_vip=True))
    assert conv.assignee_id == vip_agent.pk
    assert conv.priority == 1  # VIPs also wait less


def test_named_agents_without_overflow_wait_for_them(dispatch):
    org = dispatch.org
    named = dispatch.agent(org.south, cap=5, online=False)
    dispatch.agent(org.sh, cap=5)
    rule = RoutingRule.objects.create(tenant=org.tenant, name="named", channel=dispatch.channel, overflow=False)
    rule.target_agents.add(named)
    conv = dispatch.start()
    assert conv.status == ConversationStatus.QUEUED
    dispatch.online(named)
    conv.refresh_from_db()
    assert conv.assignee_id == named.pk


def test_queue_is_fifo_and_capacity_gained_assigns_the_oldest_at_once(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=3)
    account_services.agent_set_max_chats(agent=agent, max_chats=1)
    first = dispatch.start()
    waiting = [dispatch.start() for _ in range(3)]
    assert all(c.status == ConversationStatus.QUEUED for c in waiting)
    # Closing frees a seat: the oldest waiting conversation is assigned in the same request.
    conv_services.conversation_close(conversation_id=first.pk, actor=agent)
    assert [Conversation.objects.get(pk=c.pk).status for c in waiting] == ["active", "queued", "queued"]
    # Raising the limit assigns the next oldest.
    account_services.agent_set_max_chats(agent=agent, max_chats=2)
    assert [Conversation.objects.get(pk=c.pk).status for c in waiting] == ["active", "active", "queued"]
    # Another agent coming online takes the last.
    other = dispatch.agent(dispatch.org.sh, cap=1)
    assert Conversation.objects.get(pk=waiting[2].pk).assignee_id == other.pk


def test_higher_priority_is_served_first(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    first = dispatch.start()
    normal = dispatch.start()
    urgent = dispatch.start(customer=dispatch.visitor(is_vip=True))
    conv_services.conversation_close(conversation_id=first.pk, actor=agent)
    assert Conversation.objects.get(pk=urgent.pk).assignee_id == agent.pk
    assert Conversation.objects.get(pk=normal.pk).status == ConversationStatus.QUEUED


def test_long_queue_switches_to_idle_first(dispatch):
    org = dispatch.org
    RoutingRule.objects.create(
        tenant=org.tenant, name="rr", channel=dispatch.channel, strategy=Strategy.ROUND_ROBIN, sticky=False
    )
    busy = dispatch.agent(org.sh, cap=5)
    idle = dispatch.agent(org.sh, cap=5)
    dispatch.start()  # -> busy (round robin: never assigned, lower id)
    # Make `busy` the one round robin would pick next: longest since their last assignment.
    AgentPresence.objects.filter(agent=busy).update(last_assigned_at=timezone.now() - dt.timedelta(hours=1))
    AgentPresence.objects.update_or_create(
        agent=idle, defaults={"tenant": org.tenant, "last_assigned_at": timezone.now()}
    )
    assert dispatch.start().assignee_id == busy.pk  # queue short: plain round robin
    AgentPresence.objects.filter(agent=busy).update(last_assigned_at=timezone.now() - dt.timedelta(hours=1))
    _settings(org, queue_threshold=0)  # any waiting visitor counts as a long queue
    assert dispatch.start().assignee_id == idle.pk


def test_every_transition_writes_an_event_row(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    conv = dispatch.start()
    conv_services.conversation_close(conversation_id=conv.pk, actor=agent)
    rows = list(
        ConversationEvent.objects.filter(conversation=conv).values_list(
            "kind", "from_status", "to_status", "agent_id", "actor_id"
        )
    )
    assert rows == [
        ("created", "", "queued", None, None),
        ("assigned", "queued", "active", agent.pk, None),
        ("closed", "active", "closed", agent.pk, agent.pk),
    ]


def test_supervisor_role_agents_take_conversations_too(dispatch):
    sup = dispatch.agent(dispatch.org.sh, cap=1, role=Role.SUPERVISOR)
    assert dispatch.start().assignee_id == sup.pk


def test_arrival_dispatch_uses_a_bounded_number_of_queries(dispatch, django_assert_max_num_queries):
    dispatch.agent(dispatch.org.sh, cap=5)
    dispatch.start()
    customer = dispatch.visitor()
    # (the assignment also writes the visitor's "…为您服务" line: one message, its seq)
    with django_assert_max_num_queries(46):
        conv = conversation_intake(channel=dispatch.channel, customer=customer)
    conv.refresh_from_db()
    assert conv.status == ConversationStatus.ACTIVE


def test_waiting_visitors_are_told_their_position_and_an_estimate_only_when_it_is_measured(dispatch, monkeypatch):
    import time_machine
    from django.core.cache import cache

    from apps.messaging import publish as publish_module

    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(publish_module, "_send", lambda groups, event, **kw: sent.extend((g, event) for g in groups))
    tenant_id = dispatch.org.tenant.pk

    def told(conversation) -> dict:
        mine = [
            e
            for g, e in sent
            if e["type"] == "conversation.queued" and g == f"t{tenant_id}.customer.{conversation.customer_id}"
        ]
        return mine[-1]

    start = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        first, second = dispatch.start(), dispatch.start()
        # Nobody online: no invented wait, the visitor is offered to leave a message.
        assert told(second) == {
            "type": "conversation.queued",
            "conversation_id": second.pk,
            "position": 2,
            "estimated_wait_seconds": None,
            "agents_online": False,
            "as_of": int(start.timestamp() * 1000),  # when the queue was read: clients keep the latest
        }
        clock.shift(1)
        agent = dispatch.agent(dispatch.org.sh, cap=1)  # takes `first`: `second` moves up at once
        assert Conversation.objects.get(pk=first.pk).assignee_id == agent.pk
        assert told(second)["position"] == 1 and told(second)["agents_online"] is True
        assert told(second)["as_of"] == int(start.timestamp() * 1000) + 1000
        assert told(second)["estimated_wait_seconds"] is None  # one assignment is no rate yet
        assert [e["queue_length"] for g, e in sent if e["type"] == "queue.changed"][-1] == 1
        # Two minutes later the agent closes `first` and takes `second`; a third visitor arrives:
        # the measured pace (2 assignments in 4 minutes up to now) gives the estimate.
        clock.shift(120)
        conv_services.conversation_close(conversation_id=first.pk, actor=agent)
        assert Conversation.objects.get(pk=second.pk).assignee_id == agent.pk
        clock.shift(120)
        cache.delete(f"routing:pace2:{tenant_id}")
        third = dispatch.start()
        assert told(third)["position"] == 1 and told(third)["estimated_wait_seconds"] == 120


def test_intake_opens_routes_and_assigns_in_one_call_and_returns_the_assigned_state(dispatch):
    agent = dispatch.agent(dispatch.org.sh, cap=1)
    customer = dispatch.visitor()
    opened = conversation_intake_result(channel=dispatch.channel, customer=customer, subject="where is my parcel")
    conversation = opened.conversation
    # the returned object is the state after dispatch: no second read needed by the entry point
    assert opened.created and conversation.status == "active" and conversation.assignee_id == agent.pk
    assert conversation.reach_path == dispatch.org.sh.path
    again = conversation_intake_result(channel=dispatch.channel, customer=customer)
    assert (again.conversation.pk, again.created) == (conversation.pk, False)
    assert conversation_intake(channel=dispatch.channel, customer=customer).pk == conversation.pk
    queued = conversation_intake_result(channel=dispatch.channel, customer=dispatch.visitor())
    assert queued.created and queued.conversation.status == "queued" and queued.conversation.assignee_id is None
