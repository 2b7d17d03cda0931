"""Every conversation belongs to a branch at every moment, and each figure counts for the branch
that held the conversation when it happened (apps.conversations.services, apps.reports.metrics)."""

from __future__ import annotations

import importlib
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationEvent
from apps.messaging import services as msg_services
from apps.reports import rollups, selectors
from apps.routing.models import RoutingRule
from tests.routing.conftest import Dispatch

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
pytestmark = [pytest.mark.django_db(transaction=True)]
T0 = datetime(2026, 5, 11, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def d(org_a, clock):
    return Dispatch(org_a)


def _figures(actor, dimension="branch", branch_id=None):
    rollups.rollup_rebuild(tenant_id=actor.tenant_id, start=T0 - timedelta(hours=1), end=T0 + timedelta(hours=3))
    rng = selectors.parse_range(tz=SH, date_from="2026-05-11", date_to="2026-05-11", grain="d")
    return selectors.report_table(actor=actor, dimension=dimension, rng=rng, branch_id=branch_id)


def _send(conv, agent, body="hi"):
    return msg_services.message_create(
        conversation_id=conv.pk, sender_kind="agent", sender_user=agent, body=body, client_msg_id=body
    )


def test_tenant_wide_channel_belongs_to_the_branch_of_the_agent_who_took_it(d, clock):
    org = d.org
    web = d.make_channel(None)  # tenant-wide
    agent = d.agent(org.sh)
    conv = d.start(channel=web)
    assert conv.assignee_id == agent.pk and conv.branch_id == org.sh.pk
    created, assigned = ConversationEvent.objects.filter(conversation=conv).order_by("id")[:2]
    assert created.branch_id is None and assigned.branch_id == org.sh.pk
    clock.shift(timedelta(seconds=20))
    _send(conv, agent)
    clock.shift(timedelta(seconds=100))
    conv_services.conversation_close(conversation_id=conv.pk, actor=agent)
    # The supervisor of East sees it (in their subtree), with every figure; South sees nothing.
    assert Conversation.objects.visible_to(org.sup_east).filter(pk=conv.pk).exists()
    east = _figures(org.sup_east)["total"]
    assert (east["offered"], east["accepted"], east["connect_rate"]) == (1, 1, 100.0)
    assert (east["frt_avg"], east["aht_avg"], east["messages"]) == (20.0, 120.0, 1)
    assert _figures(org.sup_south)["total"]["offered"] == 0


def test_queue_figures_follow_the_branch_routing_chose(d):
    org = d.org
    web = d.make_channel(None)
    RoutingRule.objects.create(tenant=org.tenant, name="south", channel=web, target_branch=org.south, overflow=False)
    conv = d.start(channel=web)  # nobody online in South: it waits there
    assert conv.status == "queued" and conv.branch_id == org.south.pk
    created = ConversationEvent.objects.filter(conversation=conv, kind="created").get()
    assert created.branch_id == org.south.pk
    conv_services.conversation_close(conversation_id=conv.pk, actor=None, reason="visitor_left")
    south = _figures(org.sup_south)["total"]
    assert (south["offered"], south["abandoned"]) == (1, 1)
    assert _figures(org.sup_east)["total"]["offered"] == 0


def test_a_transfer_to_another_branch_moves_the_conversation_and_its_later_figures(d, clock):
    org = d.org
    east_agent = d.agent(org.sh)
    conv = d.start()  # the channel of Shanghai
    assert conv.assignee_id == east_agent.pk and conv.branch_id == org.sh.pk
    clock.shift(timedelta(seconds=10))
    _send(conv, east_agent, "first")
    south_agent = d.agent(org.south)
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=east_agent, to_agent_id=south_agent.pk
    )
    clock.shift(timedelta(seconds=30))
    conv_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=south_agent)
    conv.refresh_from_db()
    assert conv.branch_id == org.south.pk
    clock.shift(timedelta(seconds=5))
    _send(conv, south_agent, "second")
    clock.shift(timedelta(seconds=60))
    conv_services.conversation_close(conversation_id=conv.pk, actor=south_agent)
    assert Conversation.objects.visible_to(org.sup_south).filter(pk=conv.pk).exists()
    east = _figures(org.sup_east)["total"]
    south = _figures(org.sup_south)["total"]
    # Taken and first answered in Shanghai; transferred, answered and closed in South.
    assert (east["offered"], east["accepted"], east["frt_sum"], east["messages"]) == (1, 1, 10, 1)
    assert (east["aht_count"], south["accepted"], south["agent_accepted"]) == (0, 0, 1)
    assert (south["frt_sum"], south["aht_sum"], south["messages"]) == (5, 105, 1)
    agents = {r["id"]: r for r in _figures(org.admin, dimension="agent")["rows"]}
    assert agents[south_agent.pk]["frt_avg"] == 5.0 and agents[east_agent.pk]["frt_avg"] == 10.0


def test_a_declined_transfer_is_an_offer_to_the_agent_who_declined(d):
    org = d.org
    east_agent = d.agent(org.sh)
    conv = d.start()
    south_agent = d.agent(org.south)
    transfer = conv_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=east_agent, to_agent_id=south_agent.pk
    )
    conv_services.conversation_transfer_decline(transfer_id=transfer.pk, actor=south_agent)
    conv.refresh_from_db()
    assert conv.branch_id == org.sh.pk and conv.assignee_id == east_agent.pk
    agents = {r["id"]: r for r in _figures(org.admin, dimension="agent")["rows"]}
    assert (agents[south_agent.pk]["agent_offered"], agents[south_agent.pk]["agent_accepted"]) == (1, 0)
    assert (agents[east_agent.pk]["agent_offered"], agents[east_agent.pk]["agent_accepted"]) == (1, 1)


def test_a_requeued_tenant_wide_conversation_keeps_its_branch_until_the_next_agent_takes_it(d, clock):
    org = d.org
    web = d.make_channel(None)
    first = d.agent(org.sh)
    conv = d.start(channel=web)
    assert conv.branch_id == org.sh.pk
    account_services = importlib.import_module("apps.accounts.services")
    account_services.agent_set_status(agent=first, status="away")
    clock.shift(timedelta(minutes=2))
    conv_services.conversation_requeue(conversation_id=conv.pk, reason="first_response_timeout")
    conv.refresh_from_db()
    assert conv.status == "queued" and conv.branch_id == org.sh.pk  # never without a branch
    second = d.agent(org.south)  # online: capacity appears, dispatch gives it to South
    conv.refresh_from_db()
    assert conv.assignee_id == second.pk and conv.branch_id == org.south.pk
    east, south = _figures(org.sup_east)["total"], _figures(org.sup_south)["total"]
    assert (east["offered"], east["accepted"]) == (2, 1)  # the re-queue entered the queue in Shanghai
    assert (south["offered"], south["accepted"], south["wait_count"]) == (0, 1, 1)


def test_data_migration_gives_existing_tenant_wide_conversations_a_branch(d):
    org = d.org
    web = d.make_channel(None)
    agent = d.agent(org.sh)
    conv = d.start(channel=web)
    # As main left them: no branch on the conversation nor on its events.
    Conversation.objects.filter(pk=conv.pk).update(branch=None, flags={})
    ConversationEvent.objects.filter(conversation=conv).update(branch=None)
    migration = importlib.import_module("apps.conversations.migrations.0003_attribute_branches")
    from django.apps import apps

    migration.attribute(apps, None)
    conv.refresh_from_db()
    assert conv.branch_id == agent.branch_id == org.sh.pk
    assigned = ConversationEvent.objects.get(conversation=conv, kind="assigned")
    assert assigned.branch_id == org.sh.pk
    assert _figures(org.sup_east)["total"]["offered"] == 1


def test_branch_supervisor_sees_the_work_the_moment_it_happens(d, clock, client):
    from tests.conftest import PASSWORD

    org = d.org
    rollups.rollup_refresh()  # the beat ran a moment ago: nothing after this is in stored rows
    web = d.make_channel(None)
    agent = d.agent(org.sh)
    conv = d.start(channel=web)
    clock.shift(timedelta(seconds=8))
    _send(conv, agent)
    # No rollup run in between: the monitor and the report read the new rows at once.
    today = selectors.monitor_snapshot(actor=org.sup_east, tz=SH)["today"]
    assert (today["offered"], today["accepted"], today["connect_rate"]) == (1, 1, 100.0)
    assert selectors.monitor_snapshot(actor=org.sup_south, tz=SH)["today"]["offered"] == 0
    client.login(username=org.sup_east.username, password=PASSWORD)
    page = client.get("/supervisor/reports/", {"dimension": "agent"}).content.decode()
    assert 'data-figure="offered">1<' in page and 'data-figure="connect_rate">100.0%<' in page
    # The beat then stores the same figures.
    rollups.rollup_refresh()
    assert selectors.monitor_snapshot(actor=org.sup_east, tz=SH)["today"]["accepted"] == 1


@pytest.mark.parametrize(
    "instant",
    ["2026-05-11T15:59:50+00:00", "2026-05-11T16:00:10+00:00", "2026-05-11T19:00:00+00:00"],
    ids=["before-midnight-shanghai", "after-midnight-shanghai", "utc-evening"],
)
def test_todays_figures_are_the_tenants_today_at_any_instant(org_a, instant):
    now = datetime.fromisoformat(instant)
    with time_machine.travel(now - timedelta(seconds=30), tick=False) as clock:
        d = Dispatch(org_a)
        rollups.rollup_refresh()
        agent = d.agent(org_a.sh)
        conv = d.start()  # 30 s ago
        assert conv.assignee_id == agent.pk
        clock.move_to(now)
        snap = selectors.monitor_snapshot(actor=org_a.sup_east, tz=SH)["today"]
        started_today = (now - timedelta(seconds=30)).astimezone(SH).date() == now.astimezone(SH).date()
        assert snap["date"] == now.astimezone(SH).date().isoformat()
        assert (snap["offered"], snap["accepted"]) == ((1, 1) if started_today else (0, 0))
        day = (now - timedelta(seconds=30)).astimezone(SH).date().isoformat()
        rng = selectors.parse_range(tz=SH, date_from=day, date_to=day, grain="h")
        assert selectors.report_table(actor=org_a.sup_east, dimension="branch", rng=rng)["total"]["offered"] == 1
