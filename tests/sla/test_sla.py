"""Service levels: targets counted in working hours, clocks started when people take over,
breaches recorded once and told to the agent and the branch's supervisors."""

from __future__ import annotations

import datetime as dt
from datetime import UTC

import pytest
import time_machine

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus
from apps.channels.models import Channel
from apps.conversations import services as conv_services
from apps.customers.models import Customer
from apps.messaging.services import message_create
from apps.routing.intake import conversation_intake
from apps.routing.models import Holiday, WorkingHours
from apps.routing.selectors import dispatch_settings_forget, working_deadline, working_seconds_between
from apps.sla import services
from apps.sla.models import SlaBreach, SlaClock

pytestmark = pytest.mark.django_db

SH = dt.timezone(dt.timedelta(hours=8))
FRI_17 = dt.datetime(2026, 3, 6, 17, 0, tzinfo=SH)  # a Friday in Shanghai


@pytest.fixture(autouse=True)
def _forget():
    dispatch_settings_forget()
    services.policies_forget()
    yield
    dispatch_settings_forget()
    services.policies_forget()


def _weekdays_9_to_18(tenant, branch=None):
    for wd in range(5):
        WorkingHours.objects.create(tenant=tenant, branch=branch, weekday=wd, start=dt.time(9), end=dt.time(18))
    dispatch_settings_forget()


def test_targets_count_only_working_hours_and_skip_holidays(org_a):
    _weekdays_9_to_18(org_a.tenant)
    Holiday.objects.create(tenant=org_a.tenant, date=dt.date(2026, 3, 9))  # Monday off
    dispatch_settings_forget()
    # Friday 17:00 + 2 working hours: 1 h on Friday, the weekend and the holiday skipped, 1 h on Tuesday.
    due = working_deadline(tenant=org_a.tenant, branch=org_a.sh, start=FRI_17, seconds=7200)
    assert due == dt.datetime(2026, 3, 10, 10, 0, tzinfo=SH)
    assert working_seconds_between(tenant=org_a.tenant, branch=org_a.sh, start=FRI_17, end=due) == 7200
    # A branch with its own (Saturday) hours counts Saturday too; its parent's calendar is not used.
    WorkingHours.objects.create(tenant=org_a.tenant, branch=org_a.sh, weekday=5, start=dt.time(10), end=dt.time(12))
    dispatch_settings_forget()
    assert working_deadline(tenant=org_a.tenant, branch=org_a.pd, start=FRI_17, seconds=3600) == dt.datetime(
        2026, 3, 7, 11, 0, tzinfo=SH
    )
    # No working hours anywhere: always open, wall-clock time.
    bare = _bare_tenant()
    assert working_deadline(tenant=bare, branch=None, start=FRI_17, seconds=60) == FRI_17 + dt.timedelta(seconds=60)


def _bare_tenant():
    from apps.tenants.models import Tenant

    return Tenant.objects.create(name="bare", slug="bare")


class Desk:
    def __init__(self, org):
        self.org = org
        self.channel = Channel.objects.create(tenant=org.tenant, name="web", branch=org.sh)
        account_services.agent_set_status(agent=org.agent_sh, status=AgentStatus.ONLINE)
        services.sla_policy_save(
            actor=org.admin,
            tenant_id=org.tenant.pk,
            name="VIP",
            order=1,
            customer_tier="vip",
            first_response_seconds=60,
            resolution_seconds=600,
            warning_percent=50,
        )
        services.sla_policy_save(
            actor=org.admin,
            tenant_id=org.tenant.pk,
            name="everyone",
            order=2,
            first_response_seconds=300,
        )
        services.policies_forget()

    def start(self, *, vip=False):
        customer = Customer.objects.create(tenant=self.org.tenant, display_name="c", is_vip=vip)
        conv = conversation_intake(channel=self.channel, customer=customer)
        conv.refresh_from_db()
        return conv


@pytest.fixture
def desk(org_a):
    return Desk(org_a)


T0 = dt.datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai; no calendar = always open


def test_the_first_matching_policy_starts_the_clock_with_due_and_warning_instants(
    desk, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        vip = desk.start(vip=True)
        regular = desk.start()
    vip_clock = SlaClock.objects.get(conversation=vip)
    assert vip_clock.policy.name == "VIP" and vip_clock.started_at == T0
    assert vip_clock.first_response_warn_at == T0 + dt.timedelta(seconds=30)
    assert vip_clock.first_response_due == T0 + dt.timedelta(seconds=60)
    assert vip_clock.resolution_due == T0 + dt.timedelta(seconds=600)
    regular_clock = SlaClock.objects.get(conversation=regular)
    assert regular_clock.policy.name == "everyone" and regular_clock.resolution_due is None
    assert services.sla_clock_start(conversation_id=vip.pk).pk == vip_clock.pk  # twice: the same clock


def test_breach_is_recorded_once_and_told_to_the_agent_and_branch_supervisors(
    desk, org_a, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("apps.sla.notify.publish", lambda groups, event: sent.append((sorted(groups), event)))
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        late = desk.start(vip=True)
        answered = desk.start(vip=True)
        left = desk.start(vip=True)
    for conv in (late, answered, left):
        conv.refresh_from_db()  # dispatched after commit
    assert late.assignee_id == org_a.agent_sh.pk
    with time_machine.travel(T0 + dt.timedelta(seconds=40), tick=False):
        message_create(conversation_id=answered.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="您好")
        conv_services.conversation_close(conversation_id=left.pk, reason="visitor_left")
    assert services.sla_check(now=T0 + dt.timedelta(seconds=59))["breaches"] == 0
    result = services.sla_check(now=T0 + dt.timedelta(seconds=61))
    again = services.sla_check(now=T0 + dt.timedelta(seconds=90))
    assert result["breaches"] == 1 and again["breaches"] == 0
    breach = SlaBreach.objects.get()
    assert (breach.conversation_id, breach.kind, breach.agent_id) == (late.pk, "first_response", org_a.agent_sh.pk)
    assert breach.branch_id == org_a.sh.pk
    assert SlaClock.objects.get(conversation=answered).first_response_at == T0 + dt.timedelta(seconds=40)
    ((groups, event),) = sent
    assert event["type"] == "sla.breached" and event["breach"]["kind"] == "first_response"
    t = org_a.tenant.pk
    expected = {f"t{t}.agent.{u.pk}" for u in (org_a.agent_sh, org_a.sup_east, org_a.admin)}
    assert set(groups) == expected  # sup_south (another branch) hears nothing
    # Resolution: the VIP target is 600 s; closing late records the second breach, once.
    with time_machine.travel(T0 + dt.timedelta(seconds=700), tick=False):
        conv_services.conversation_close(conversation_id=late.pk, reason="agent_closed")
    assert services.sla_check(now=T0 + dt.timedelta(seconds=701))["breaches"] == 2  # late + answered (still open)
    assert set(SlaBreach.objects.values_list("conversation_id", "kind")) == {
        (late.pk, "first_response"),
        (late.pk, "resolution"),
        (answered.pk, "resolution"),
    }


def test_bot_conversations_start_their_clock_when_handed_to_people(desk, org_a, django_capture_on_commit_callbacks):
    desk.channel.bot_enabled = True
    desk.channel.save()
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        conv = desk.start()  # (VIP customers are handed to people at once)
    conv.refresh_from_db()
    assert conv.status == "bot", list(conv.events.values_list("kind", "reason"))
    assert not SlaClock.objects.filter(conversation=conv).exists()
    with (
        time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        conv_services.conversation_handoff_to_human(conversation_id=conv.pk, reason="asked")
    assert SlaClock.objects.get(conversation=conv).started_at == T0 + dt.timedelta(minutes=5)


def test_policies_are_validated_and_only_admins_change_them(org_a, api_client):
    api_client.force_authenticate(org_a.admin)
    bad = api_client.post(
        "/api/v1/sla/policies/",
        {"name": "x", "first_response_seconds": 600, "resolution_seconds": 60},
        format="json",
    )
    assert bad.status_code == 400
    ok = api_client.post("/api/v1/sla/policies/", {"name": "标准", "first_response_seconds": 120}, format="json")
    assert ok.status_code == 201, ok.content
    api_client.force_authenticate(org_a.sup_east)
    assert api_client.get("/api/v1/sla/policies/").status_code == 200
    assert (
        api_client.post("/api/v1/sla/policies/", {"name": "y", "first_response_seconds": 1}, format="json").status_code
        == 403
    )
