"""The policy costs a constant number of queries: list endpoints scoped through it do not grow
with the rows, one-object checks are one query, and an event's audience is two."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.conversations import policy
from apps.routing.models import LeaveMessage

pytestmark = [pytest.mark.django_db(transaction=True)]

LISTS = [
    "/api/v1/conversations/mine/",
    "/api/v1/conversations/queue/",
    "/api/v1/transfers/",
    "/api/v1/routing/leave-messages/",
    "/api/v1/kb/alerts/",
]


def _counts(client, user) -> dict[str, int]:
    client.force_login(user)
    out = {}
    for url in LISTS:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content[:200])
        out[url] = len(ctx.captured_queries)
    return out


def test_scoped_lists_cost_the_same_whatever_the_number_of_rows(world, client):
    sup = world.a.sup_east
    world._start(world.channel, served=False)  # one in the queue (an empty page skips its read)
    before = _counts(client, sup)
    for i in range(4):
        world._start(world.channel, served=False)  # queued: more rows in the supervisor's reach
        LeaveMessage.objects.create(tenant=world.a.tenant, channel=world.channel, contact=f"1380000000{i}", content="x")
    after = _counts(client, sup)
    assert after == before


def test_a_one_object_check_is_one_query_and_an_audience_two(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        policy.check(world.assignee, world.served.pk, policy.ACT)
    with django_assert_num_queries(1):
        assert not policy.allows(world.a.agent_south, world.served.pk, policy.VIEW)
    with django_assert_num_queries(2):
        policy.audience(world.served.pk)
