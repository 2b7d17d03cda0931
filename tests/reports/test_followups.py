"""Follow-up tasks from left messages and low ratings: owner, due time, outcome; agents work
their own tasks from the workbench, supervisors their subtree's."""

from __future__ import annotations

import pytest

from apps.channels.models import Channel
from apps.reports import services
from apps.reports.models import FollowUpTask
from apps.routing.services import leave_message_create

pytestmark = pytest.mark.django_db


def test_left_messages_become_follow_ups_once_and_the_owner_closes_them_with_an_outcome(org_a, api_client):
    channel = Channel.objects.create(tenant=org_a.tenant, name="web", branch=org_a.sh)
    lm = leave_message_create(channel=channel, name="王先生", contact="13800000000", content="请回电")
    services.tracking_scan_events()
    services.tracking_scan_events()  # twice: still one task
    task = FollowUpTask.objects.get(leave_message=lm)
    assert task.source == "leave_message" and task.branch_id == org_a.sh.pk
    assert task.assignee_id == org_a.sup_east.pk  # the nearest supervisor above the channel's branch
    assert task.due_at > lm.created_at
    # The supervisor gives it to an agent, who sees it in the workbench list.
    services.followup_update(actor=org_a.sup_east, task_id=task.pk, assignee_id=org_a.agent_sh.pk)
    api_client.force_authenticate(org_a.agent_sh)
    rows = api_client.get("/api/v1/followups/").json()["results"]
    assert [(r["id"], r["contact"], r["text"]) for r in rows] == [(task.pk, "13800000000", "请回电")]
    incomplete = api_client.patch(f"/api/v1/followups/{task.pk}/", {"done": True}, format="json")
    assert incomplete.status_code == 400 and incomplete.json()["error"]["code"] == "result_required"
    ok = api_client.patch(
        f"/api/v1/followups/{task.pk}/", {"outcome": "unreachable", "result": "两次未接通", "done": True}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "done"
    # Another agent neither sees nor changes it (as if it did not exist).
    api_client.force_authenticate(org_a.agent_pd)
    assert api_client.get("/api/v1/followups/?status=all").json()["results"] == []
    assert api_client.patch(f"/api/v1/followups/{task.pk}/", {"result": "x"}, format="json").status_code == 404
    # Agents cannot move the due time or the owner.
    api_client.force_authenticate(org_a.agent_sh)
    from apps.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as exc:
        services.followup_update(actor=org_a.agent_sh, task_id=task.pk, assignee_id=org_a.agent_sh.pk)
    assert exc.value.status_code == 403
