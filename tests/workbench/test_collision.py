"""Collision detection over the agent websocket: who has a conversation open, typing or holding a
draft, kept in Redis per connection, told to the staff concerned and never to the visitor;
a closed socket or a stale entry goes away."""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import sync_to_async

from apps.messaging import collision
from tests.messaging.conftest import IM
from tests.messaging.wsutil import agent_ws, drain, recv_until, send, subscribe, visitor_ws

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def im(org_a):
    return IM(org_a)


async def _until(comm, expected):
    """conversation.viewers events until one lists exactly `expected` (earlier changes may come first)."""
    seen = []
    for _ in range(6):
        frame, _ = await recv_until(comm, "conversation.viewers")
        got = [(v["name"], v["kind"], v["state"]) for v in frame["viewers"]]
        if got == expected:
            return got
        seen.append(got)
    raise AssertionError(f"never saw {expected}: {seen}")


async def test_staff_see_each_other_on_a_conversation_and_the_visitor_sees_nothing(im, org_a):
    conv, _customer, token = await sync_to_async(im.conversation)()
    agent, sup = org_a.agent_sh, org_a.sup_east
    a = await agent_ws(agent)
    s = await agent_ws(sup)
    v = await visitor_ws(token)
    await subscribe(v, conv.pk, conv.last_seq)

    await send(a, type="viewing", ref="x", conversation_id=conv.pk, state="viewing")
    reply, _ = await recv_until(a, "viewers")
    assert reply["ref"] == "x" and [x["user_id"] for x in reply["viewers"]] == [agent.pk]
    await send(s, type="viewing", conversation_id=conv.pk, state="viewing")
    # The agent (assignee and viewer) hears that the supervisor is watching.
    await _until(a, [("sup_east", "supervisor", "viewing"), ("agent_sh", "agent", "viewing")])
    await send(a, type="viewing", conversation_id=conv.pk, state="typing")
    await _until(s, [("sup_east", "supervisor", "viewing"), ("agent_sh", "agent", "typing")])
    await send(a, type="viewing", conversation_id=conv.pk, state="draft")
    await _until(s, [("sup_east", "supervisor", "viewing"), ("agent_sh", "agent", "draft")])
    # In Redis, one field per connection.
    raw = await sync_to_async(collision._redis().hgetall)(collision._key(conv.pk))
    assert {json.loads(x)["state"] for x in raw.values()} == {"draft", "viewing"}

    # The agent's socket closes: the supervisor is told, the entry is gone.
    await a.disconnect()
    await _until(s, [("sup_east", "supervisor", "viewing")])
    # The visitor never heard any of it.
    assert not [f for f in await drain(v, 0.3) if "viewer" in f["type"]]
    # Another agent without access to the conversation cannot report on it.
    other = await agent_ws(org_a.agent_south)
    await send(other, type="viewing", ref="y", conversation_id=conv.pk, state="viewing")
    err, _ = await recv_until(other, "error")
    assert err["code"] == "not_found"
    await send(s, type="viewing", ref="z", conversation_id=conv.pk, state="dancing")
    err, _ = await recv_until(s, "error")
    assert err["code"] == "invalid_frame"
    for comm in (s, v, other):
        await comm.disconnect()


def test_stale_entries_are_dropped_without_any_cleanup(im, org_a):
    conv, _c, _t = im.conversation()
    collision.viewer_set(user=org_a.sup_east, conversation=conv, channel_name="crashed", state="typing")
    collision.viewer_set(user=org_a.agent_sh, conversation=conv, channel_name="alive", state="viewing")
    later = time.time() + collision.STALE_AFTER + 1
    # The crashed server's entry is old by then; the live one refreshed meanwhile.
    collision.viewer_set(user=org_a.agent_sh, conversation=conv, channel_name="alive", state="viewing")
    r = collision._redis()
    entry = json.loads(r.hget(collision._key(conv.pk), f"{org_a.agent_sh.pk}:alive"))
    entry["at"] = later
    r.hset(collision._key(conv.pk), f"{org_a.agent_sh.pk}:alive", json.dumps(entry))
    assert [v["user_id"] for v in collision.viewers_of(conversation_id=conv.pk, now=later)] == [org_a.agent_sh.pk]
    assert r.hlen(collision._key(conv.pk)) == 1
