"""Acceptance: many processes dispatching at once against MariaDB never break the invariants."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus, Role
from apps.channels.models import Channel
from apps.conversations.models import Conversation, ConversationEvent, ConversationStatus
from apps.customers.models import Customer
from apps.routing.selectors import QUEUE_ORDER
from tests.conftest import Org
from tests.routing import _procs

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]

PROCESSES = 4
VISITORS = 200
AGENTS = 20
RUNS = int(os.environ.get("ROUTING_CONCURRENCY_RUNS", "2"))  # more runs: ROUTING_CONCURRENCY_RUNS=5


@pytest.fixture(scope="module")
def pool(django_db_setup, django_db_blocker):
    if connection.vendor != "mysql":
        pytest.skip("needs MariaDB/MySQL: SQLite serialises all writers, so it cannot show races between processes")
    db_name = connection.settings_dict["NAME"]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(PROCESSES, initializer=_procs.init, initargs=(db_name,)) as p:
        yield p


def _open_per_customer(tenant) -> Counter:
    rows = (
        Conversation.objects.filter(tenant=tenant)
        .exclude(status=ConversationStatus.CLOSED)
        .values("channel_id", "customer_id")
        .annotate(n=Count("id"))
    )
    return Counter({(r["channel_id"], r["customer_id"]): r["n"] for r in rows})


def _check_invariants(tenant, agents) -> None:
    for agent in agents:
        agent.refresh_from_db()
        load = Conversation.objects.filter(assignee=agent, status__in=["active", "transfer_pending"]).count()
        assert load <= agent.max_chats, f"agent {agent.pk} holds {load} > cap {agent.max_chats}"
    assert max(_open_per_customer(tenant).values(), default=0) <= 1, "a visitor has two open conversations"
    # One assignment per conversation: no conversation was ever handed to two agents.
    twice = (
        ConversationEvent.objects.filter(tenant=tenant, kind="assigned")
        .values("conversation_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not twice.exists()
    for conv in Conversation.objects.filter(tenant=tenant, status="active"):
        assigned = ConversationEvent.objects.get(conversation=conv, kind="assigned")
        assert assigned.agent_id == conv.assignee_id


def _queue_rank(tenant, ids) -> dict[int, int]:
    ordered = Conversation.objects.filter(tenant=tenant, pk__in=ids).order_by(*QUEUE_ORDER).values_list("pk", flat=True)
    return {pk: i for i, pk in enumerate(ordered)}


def test_dispatch_invariants_hold_with_many_processes_assigning_at_once(pool, django_db_blocker):
    for run in range(RUNS):
        org = Org(f"cc{run}")
        channel = Channel.objects.create(tenant=org.tenant, name="web", branch=org.sh)
        agents = []
        for i in range(AGENTS):
            cap = 1 + i % 5  # caps 1..5, 60 seats in all
            agent = org.user(f"cc{i}", Role.AGENT, org.sh, cap=cap)
            account_services.agent_set_status(agent=agent, status=AgentStatus.ONLINE)
            agents.append(agent)
        seats = sum(a.max_chats for a in agents)
        customers = [Customer.objects.create(tenant=org.tenant, display_name=f"v{i}").pk for i in range(VISITORS)]
        # 20 visitors open the chat twice at the same moment from two processes (two tabs).
        doubles = random.Random(run).sample(customers, 20)
        slices = [customers[i::PROCESSES] for i in range(PROCESSES)]
        for k, customer_id in enumerate(doubles):
            target = (customers.index(customer_id) % PROCESSES + 1 + k % (PROCESSES - 1)) % PROCESSES
            slices[target].append(customer_id)
        at = time.time() + 0.5
        results = pool.map(_procs.arrive, [(channel.pk, s, at, 1.0) for s in slices])
        elapsed = max(r[3] for rows in results for r in rows) - at
        lat = sorted(r[3] - r[2] for rows in results for r in rows)
        print(
            f"run {run}: arrivals done in {elapsed:.2f}s, p50 {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms"
        )

        _check_invariants(org.tenant, agents)
        convs = Conversation.objects.filter(tenant=org.tenant)
        assert convs.count() == VISITORS  # the doubles got their one conversation back
        assert convs.filter(status="active").count() == seats
        assert convs.filter(status="queued").count() == VISITORS - seats

        # Drain: processes close every active conversation at once, capacity frees, the
        # queue is handed out; after every round the assigned ones precede all still waiting.
        waiting_ids = list(convs.filter(status="queued").values_list("pk", flat=True))
        rank = _queue_rank(org.tenant, waiting_ids)
        served_from_queue: set[int] = set()
        rounds = 0
        while Conversation.objects.filter(tenant=org.tenant, status="queued").exists():
            rounds += 1
            assert rounds < 10, "queue does not drain"
            active = list(Conversation.objects.filter(tenant=org.tenant, status="active").values_list("pk", flat=True))
            random.Random(rounds).shuffle(active)
            at = time.time() + 0.3
            pool.map(_procs.close, [(active[i::PROCESSES], at) for i in range(PROCESSES)])
            _check_invariants(org.tenant, agents)
            still = set(Conversation.objects.filter(tenant=org.tenant, status="queued").values_list("pk", flat=True))
            served_from_queue |= set(waiting_ids) - still
            if still:
                assert max(rank[c] for c in served_from_queue) < min(rank[c] for c in still), "queue not FIFO"
            expected_active = min(seats, len(still) + 0) if still else None
            if expected_active is not None:
                assert Conversation.objects.filter(tenant=org.tenant, status="active").count() == seats
        assert served_from_queue == set(waiting_ids)
