"""SLA attainment is a figure like the others (apps.reports.metrics): per channel, branch and agent
on the report API, decided by the same rule the breach job uses, and carried to the workbench
list with each conversation."""

from __future__ import annotations

import datetime as dt
from datetime import UTC

import pytest
import time_machine

from apps.accounts import services as account_services
from apps.channels.models import Channel
from apps.conversations import services as conv_services
from apps.customers.models import Customer
from apps.messaging.services import message_create
from apps.reports import rollups
from apps.routing.intake import conversation_intake
from apps.routing.selectors import dispatch_settings_forget
from apps.sla import services
from apps.sla.models import SlaBreach, SlaClock

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai; no calendar = always open


@pytest.fixture(autouse=True)
def _forget():
    dispatch_settings_forget()
    services.policies_forget()
    yield
    services.policies_forget()


def _start(org, channel):
    customer = Customer.objects.create(tenant=org.tenant, display_name="c")
    conv = conversation_intake(channel=channel, customer=customer)
    services.sla_clock_start(conversation_id=conv.pk)  # what the hook's task does after commit
    return conv


def _take(org, conv, agent):
    if agent.status != "online":
        account_services.agent_set_status(agent=agent, status="online")
    conv_services.conversation_assign(conversation_id=conv.pk, agent_id=agent.pk)


def _reply(conv, agent):
    message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=agent, body="您好")


def test_attainment_per_channel_and_agent_follows_the_breach_rule(org_a, api_client):
    web = Channel.objects.create(tenant=org_a.tenant, name="web", branch=org_a.sh)
    app = Channel.objects.create(tenant=org_a.tenant, name="app", branch=org_a.sh)
    services.sla_policy_save(
        actor=org_a.admin, tenant_id=org_a.tenant.pk, name="all", first_response_seconds=60, resolution_seconds=600
    )
    services.policies_forget()
    agent = org_a.agent_sh
    with time_machine.travel(T0, tick=False) as clock:
        met = _start(org_a, web)  # replied in 30 s, closed in 5 min: both met
        late = _start(org_a, web)  # replied after 2 min, still open after 10 min: both breached
        left = _start(org_a, app)  # the customer left after 20 s, unanswered: no first-response outcome
        resolved = _start(org_a, app)  # resolved in time, then silent: nothing breached
        for c in (met, late, resolved):
            _take(org_a, c, agent)
        clock.shift(20)
        conv_services.conversation_close(conversation_id=left.pk, reason="visitor_left")
        clock.shift(10)
        _reply(met, agent)
        _reply(resolved, agent)
        clock.shift(90)
        _reply(late, agent)
        clock.shift(180)
        conv_services.conversation_close(conversation_id=met.pk, actor=agent)
        conv_services.conversation_close(conversation_id=resolved.pk, actor=agent)
        assert services.sla_check()["breaches"] == 1  # late's first response
        clock.move_to(T0 + dt.timedelta(minutes=15))
        assert services.sla_check() == {"started": 0, "breaches": 1}  # late's resolution; resolved met its target
        assert set(SlaBreach.objects.values_list("conversation_id", "kind")) == {
            (late.pk, "first_response"),
            (late.pk, "resolution"),
        }
        # The breach rows, written after the fact, mark their due hours for the rollups.
        rollups.rollup_refresh()
        api_client.force_login(org_a.admin)
        day = {"from": "2026-03-04", "to": "2026-03-04"}
        by_channel = {
            r["name"]: r for r in api_client.get("/api/v1/reports/", {**day, "dimension": "channel"}).json()["rows"]
        }
        assert (by_channel["web"]["sla_frt_rate"], by_channel["web"]["sla_res_rate"]) == (50.0, 50.0)
        assert by_channel["web"]["sla_breaches"] == 2
        # app: the customer who left counts for nothing; the resolved one met both targets.
        assert (by_channel["app"]["sla_frt_rate"], by_channel["app"]["sla_res_rate"]) == (100.0, 100.0)
        assert by_channel["app"]["sla_frt_met"] == 1 and by_channel["app"]["sla_breaches"] == 0
        (mine,) = api_client.get("/api/v1/reports/", {**day, "dimension": "agent"}).json()["rows"]
        assert (mine["sla_frt_met"], mine["sla_frt_breached"], mine["sla_res_met"], mine["sla_res_breached"]) == (
            2,
            1,
            2,
            1,
        )
        api_client.force_login(agent)
        listed = {c["id"]: c for c in api_client.get("/api/v1/conversations/mine/").json()["results"]}
    sla = listed[late.pk]["sla"]
    assert sla["first_response_due"] == (T0 + dt.timedelta(seconds=60)).isoformat()
    assert sla["first_response_breached"] and sla["resolution_breached"]


def test_workbench_list_carries_clocks_in_a_constant_number_of_queries(
    org_a, api_client, django_assert_max_num_queries
):
    web = Channel.objects.create(tenant=org_a.tenant, name="web", branch=org_a.sh)
    services.sla_policy_save(actor=org_a.admin, tenant_id=org_a.tenant.pk, name="all", first_response_seconds=60)
    services.policies_forget()
    with time_machine.travel(T0, tick=False):
        convs = [_start(org_a, web) for _ in range(4)]
        for c in convs:
            _take(org_a, c, org_a.agent_sh)
    api_client.force_login(org_a.agent_sh)
    with django_assert_max_num_queries(6):
        rows = api_client.get("/api/v1/conversations/mine/").json()["results"]
    assert len(rows) == 4 and all(r["sla"]["first_response_due"] for r in rows)
    assert SlaClock.objects.count() == 4
