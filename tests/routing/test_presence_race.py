"""An agent's two sockets closing at the same moment (a page with the shell's socket and a live
page's socket) still start the grace period: without a per-agent turn, each disconnect saw the
other's not-yet-deleted row and returned, and the agent never went offline (their conversations
stayed with them). Connections are counted in Redis now, removed and counted in one script, so
exactly the last close sees none left. Real threads; the race is in Redis, so it runs on both
databases."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from apps.accounts.models import Role
from apps.messaging import presence
from apps.routing.models import AgentPresence
from apps.routing.services import presence_connection_changed

pytestmark = [pytest.mark.django_db(transaction=True)]

ROUNDS = 15


def test_two_sockets_closing_together_start_the_grace_period(org_a):
    agent = org_a.user("twosockets", Role.AGENT, org_a.sh)
    unstarted = 0
    for n in range(ROUNDS):
        names = [f"ws.{n}.a", f"ws.{n}.b"]
        for name in names:
            presence_connection_changed(agent=agent, channel_name=name, connected=True)
        assert AgentPresence.objects.get(agent=agent).disconnected_at is None
        barrier = threading.Barrier(2)
        failures = []

        def close(name, barrier=barrier, failures=failures):
            try:
                barrier.wait(timeout=10)
                presence_connection_changed(agent=agent, channel_name=name, connected=False)
            except Exception as exc:  # reported below, not lost in the thread
                failures.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=close, args=(name,)) for name in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert failures == []
        assert presence.live_connections(presence.agent_key(agent.pk)) == 0
        if AgentPresence.objects.get(agent=agent).disconnected_at is None:
            unstarted += 1
    assert unstarted == 0, f"{unstarted} of {ROUNDS} simultaneous closes never started the grace period"
