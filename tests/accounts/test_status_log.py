"""Agent status history is one fact kept once: AgentStatusLog, written by agent_set_status."""

from __future__ import annotations

import datetime as dt

import time_machine

from apps.accounts import services
from apps.accounts.models import AgentStatus, AgentStatusLog

T0 = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)


def test_each_status_change_is_logged_once_with_who_when_and_why(org_a):
    agent, supervisor = org_a.agent_sh, org_a.sup_east
    with time_machine.travel(T0, tick=False) as clock:
        services.agent_set_status(agent=agent, status=AgentStatus.ONLINE, actor=agent)
        clock.shift(60)
        services.agent_set_status(agent=agent, status=AgentStatus.AWAY, actor=supervisor, reason="lunch")
        services.agent_set_status(agent=agent, status=AgentStatus.AWAY, actor=agent)  # no change: no row
    rows = list(
        AgentStatusLog.objects.filter(agent=agent)
        .order_by("id")
        .values_list("previous", "status", "actor_id", "reason", "branch_id_at_time", "created_at")
    )
    assert rows == [
        ("offline", "online", agent.pk, "", org_a.sh.pk, T0),
        ("online", "away", supervisor.pk, "lunch", org_a.sh.pk, T0 + dt.timedelta(seconds=60)),
    ]
