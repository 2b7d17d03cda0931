"""Waiting for the customer pauses the resolution target: the working time left is kept, the due
instant moves when the clock runs again, no breach is recorded meanwhile, and a close during the
pause is in time. Manual follow-up tasks from the workbench's API."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from apps.conversations import services as conv_services
from apps.messaging.services import message_create
from apps.reports.metrics import sla_outcomes
from apps.routing import waiting
from apps.routing.models import WorkingHours
from apps.routing.selectors import dispatch_settings_forget
from apps.sla import services
from apps.sla.models import SlaBreach, SlaClock
from tests.sla.test_sla import SH, T0, Desk, _forget  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.django_db

S = dt.timedelta(seconds=1)


@pytest.fixture
def desk(org_a):
    return Desk(org_a)


def _start_vip(desk, at, django_capture_on_commit_callbacks, *, answer=True):
    """VIP policy: first response 60 s, resolution 600 s, amber at 50 %; answered after 30 s."""
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        conv = desk.start(vip=True)
    conv.refresh_from_db()
    assert conv.assignee_id == desk.org.agent_sh.pk
    if answer:
        with time_machine.travel(at + 30 * S, tick=False):
            message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=desk.org.agent_sh, body="您好")
    return conv


def test_waiting_pauses_resolution_and_resumes_with_the_time_left(desk, org_a, django_capture_on_commit_callbacks):
    conv = _start_vip(desk, T0, django_capture_on_commit_callbacks)
    clock = SlaClock.objects.get(conversation=conv)
    assert clock.resolution_due == T0 + 600 * S and clock.resolution_warn_at == T0 + 300 * S
    with time_machine.travel(T0 + 200 * S, tick=False), django_capture_on_commit_callbacks(execute=True):
        waiting.conversation_wait(conversation_id=conv.pk, actor=org_a.agent_sh)
    clock.refresh_from_db()
    assert clock.resolution_paused_at == T0 + 200 * S and clock.resolution_left_s == 400
    assert clock.resolution_due == T0 + 600 * S  # unchanged while paused
    # Long past the old due time: nothing is breached while the customer is away.
    assert services.sla_check(now=T0 + 3000 * S)["breaches"] == 0
    assert not SlaBreach.objects.filter(kind="resolution").exists()
    with time_machine.travel(T0 + 3600 * S, tick=False), django_capture_on_commit_callbacks(execute=True):
        message_create(conversation_id=conv.pk, sender_kind="visitor", body="我回来了")
    clock.refresh_from_db()
    assert clock.resolution_paused_at is None and clock.resolution_left_s is None
    assert clock.resolution_due == T0 + 4000 * S  # 400 s left from the reply
    assert clock.resolution_warn_at == T0 + 3700 * S  # amber 300 s before due, as at the start
    assert services.sla_check(now=T0 + 3999 * S)["breaches"] == 0
    assert services.sla_check(now=T0 + 4001 * S)["breaches"] == 1
    assert SlaBreach.objects.get(kind="resolution").due_at == T0 + 4000 * S


def test_pause_counts_working_time_left_and_a_close_while_paused_is_in_time(
    desk, org_a, django_capture_on_commit_callbacks
):
    for wd in range(5):
        WorkingHours.objects.create(tenant=org_a.tenant, weekday=wd, start=dt.time(9), end=dt.time(18))
    dispatch_settings_forget()
    start = dt.datetime(2026, 3, 6, 17, 55, tzinfo=SH)  # Friday 17:55: 300 s today, 300 s on Monday
    conv = _start_vip(desk, start, django_capture_on_commit_callbacks, answer=False)
    clock = SlaClock.objects.get(conversation=conv)
    assert clock.resolution_due == dt.datetime(2026, 3, 9, 9, 5, tzinfo=SH)
    with time_machine.travel(start + 120 * S, tick=False):
        waiting.conversation_wait(conversation_id=conv.pk, actor=org_a.agent_sh)
    clock.refresh_from_db()
    assert clock.resolution_left_s == 480  # working seconds, the weekend not counted
    # Already-late targets are not paused (nothing to save), and the second wait keeps the first pause.
    with time_machine.travel(start + 130 * S, tick=False):
        waiting.conversation_wait(conversation_id=conv.pk, actor=org_a.agent_sh, remind_at=start + 3600 * S)
    clock.refresh_from_db()
    assert clock.resolution_paused_at == start + 120 * S
    closed_at = dt.datetime(2026, 3, 10, 12, 0, tzinfo=SH)  # after the old due time, still paused
    with time_machine.travel(closed_at, tick=False):
        conv_services.conversation_close(conversation_id=conv.pk, reason="agent_closed")
    (res,) = [
        o
        for o in sla_outcomes(clock=clock, first_response_at=None, resolved_at=closed_at, now=closed_at)
        if o.target == "resolution"
    ]
    assert res.met
    assert services.sla_check(now=closed_at + 60 * S)["breaches"] == 1  # the first response only
    assert SlaBreach.objects.get().kind == "first_response"


def test_an_agent_resuming_restarts_the_clock(desk, org_a, django_capture_on_commit_callbacks):
    conv = _start_vip(desk, T0, django_capture_on_commit_callbacks)
    with time_machine.travel(T0 + 500 * S, tick=False):
        waiting.conversation_wait(conversation_id=conv.pk, actor=org_a.agent_sh)
    with time_machine.travel(T0 + 1000 * S, tick=False):
        waiting.conversation_resume(conversation_id=conv.pk, actor=org_a.agent_sh)
    clock = SlaClock.objects.get(conversation=conv)
    assert clock.resolution_due == T0 + 1100 * S and clock.resolution_warn_at == T0 + 1000 * S


# --- follow-up tasks written from the workbench ----------------------------------------------


def test_staff_create_follow_ups_only_on_conversations_they_can_see(
    desk, org_a, org_b, api_client, django_capture_on_commit_callbacks
):
    from apps.reports.models import FollowUpTask

    conv = _start_vip(desk, T0, django_capture_on_commit_callbacks)
    with time_machine.travel(T0, tick=False):
        api_client.force_authenticate(org_a.agent_sh)
        due = (T0 + dt.timedelta(days=1)).isoformat()
        ok = api_client.post(
            "/api/v1/followups/", {"conversation_id": conv.pk, "note": "<i>回访</i>", "due_at": due}, format="json"
        )
        assert ok.status_code == 201, ok.content
        assert ok.json()["text"] == "<i>回访</i>" and ok.json()["source"] == "manual"
        task = FollowUpTask.objects.get()
        assert (task.assignee_id, task.created_by_id, task.branch_id) == (
            org_a.agent_sh.pk,
            org_a.agent_sh.pk,
            conv.branch_id,
        )
        assert task.due_at == T0 + dt.timedelta(days=1)
        for body, code in (
            ({"conversation_id": conv.pk, "note": " ", "due_at": due}, 400),
            ({"conversation_id": conv.pk, "note": "x", "due_at": (T0 - S).isoformat()}, 400),
            ({"conversation_id": conv.pk, "note": "x", "due_at": (T0 + dt.timedelta(days=91)).isoformat()}, 400),
        ):
            assert api_client.post("/api/v1/followups/", body, format="json").status_code == code
        # Another agent who does not serve it, and another tenant: as if it did not exist.
        for user in (org_a.agent_south, org_b.agent_sh):
            api_client.force_authenticate(user)
            r = api_client.post(
                "/api/v1/followups/", {"conversation_id": conv.pk, "note": "x", "due_at": due}, format="json"
            )
            assert r.status_code == 404, r.content
        assert FollowUpTask.objects.count() == 1
        # The owner sees it in the workbench list.
        api_client.force_authenticate(org_a.agent_sh)
        listed = api_client.get("/api/v1/followups/?status=open").json()["results"]
        assert [t["id"] for t in listed] == [task.pk]
