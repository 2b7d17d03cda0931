"""The websocket protocol through the real ASGI app (routing, session auth, channel layer on Redis)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from apps.accounts import hooks as account_hooks
from apps.conversations.models import Conversation, Participant
from apps.messaging.models import Message
from apps.messaging.services import message_create
from tests.messaging.wsutil import agent_ws, drain, recv, recv_until, send, subscribe, visitor_ws

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


def _count(conversation_id):
    return Message.objects.filter(conversation_id=conversation_id).count()


async def test_send_is_acked_with_seq_and_reaches_every_tab_in_seq_order(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    tab1, tab2 = await visitor_ws(token), await visitor_ws(token)
    agent = await agent_ws(im_a.org.agent_sh)
    assert [c["id"] for c in tab1.hello["conversations"]] == [conv.pk]
    for comm in (tab1, tab2, agent):
        assert await subscribe(comm, conv.pk, 0) == []
    acks, early = [], {tab1: [], tab2: [], agent: []}
    for i in range(5):
        await send(tab1, type="send", conversation_id=conv.pk, client_msg_id=f"m{i}", body=f"hello {i}", ref=i)
        ack, before = await recv_until(tab1, "ack")
        acks.append(ack)
        early[tab1] += before
    assert [(a["seq"], a["client_msg_id"], a["ref"], a["duplicate"]) for a in acks] == [
        (i + 1, f"m{i}", i, False) for i in range(5)
    ]
    for comm in (tab1, tab2, agent):
        frames = [f for f in early[comm] + await drain(comm) if f["type"] == "message.created"]
        assert [f["message"]["seq"] for f in frames] == [1, 2, 3, 4, 5]
        assert [f["message"]["body"] for f in frames] == [f"hello {i}" for i in range(5)]
    for comm in (tab1, tab2, agent):
        await comm.disconnect()


async def test_every_connection_gets_each_message_once_in_order(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    agent = await agent_ws(im_a.org.agent_sh)
    await subscribe(visitor, conv.pk, 0)
    await subscribe(agent, conv.pk, 0)
    for i in range(10):
        await send(agent, type="send", conversation_id=conv.pk, client_msg_id=f"a{i}", body=f"reply {i}")
    agent_frames = await drain(agent, 0.5)
    visitor_frames = await drain(visitor, 0.5)
    assert [f["seq"] for f in agent_frames if f["type"] == "ack"] == list(range(1, 11))
    assert [f["message"]["seq"] for f in agent_frames if f["type"] == "message.created"] == list(range(1, 11))
    assert [f["message"]["body"] for f in visitor_frames if f["type"] == "message.created"] == [
        f"reply {i}" for i in range(10)
    ]
    await visitor.disconnect()
    await agent.disconnect()


async def test_resending_a_client_msg_id_returns_the_original_and_writes_nothing(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    agent = await agent_ws(im_a.org.agent_sh)
    await subscribe(agent, conv.pk, 0)
    await send(visitor, type="send", conversation_id=conv.pk, client_msg_id="same-id", body="once")
    first = await recv(visitor)
    await send(visitor, type="send", conversation_id=conv.pk, client_msg_id="same-id", body="once")
    second = await recv(visitor)
    assert first["type"] == second["type"] == "ack"
    assert (second["id"], second["seq"], second["duplicate"]) == (first["id"], first["seq"], True)
    assert await sync_to_async(_count)(conv.pk) == 1
    pushed = [f for f in await drain(agent) if f["type"] == "message.created"]
    assert [f["message"]["id"] for f in pushed] == [first["id"]]
    await visitor.disconnect()
    await agent.disconnect()


async def test_dropped_client_resumes_and_gets_all_100_messages_exactly_once(im_a, settings):
    settings.IM_FRAME_BURST = 200  # the agent here types faster than any human
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    await subscribe(visitor, conv.pk, 0)
    await send(visitor, type="send", conversation_id=conv.pk, client_msg_id="before", body="are you there?")
    await recv_until(visitor, "ack")
    seen = [f["message"]["seq"] for f in await drain(visitor) if f["type"] == "message.created"]
    assert seen == [1]
    await visitor.disconnect()  # the phone goes into a tunnel

    agent = await agent_ws(im_a.org.agent_sh)
    for i in range(100):
        await send(agent, type="send", conversation_id=conv.pk, client_msg_id=f"r{i}", body=f"answer {i}")
    acks = [f for f in await drain(agent, 0.5) if f["type"] == "ack"]
    assert len(acks) == 100

    visitor = await visitor_ws(token)
    replayed = await subscribe(visitor, conv.pk, last_seq=seen[-1])
    assert [f["message"]["seq"] for f in replayed] == list(range(2, 102))
    assert [f["message"]["body"] for f in replayed] == [f"answer {i}" for i in range(100)]
    # and nothing more arrives twice afterwards
    await send(agent, type="send", conversation_id=conv.pk, client_msg_id="after", body="still here")
    live = [f["message"]["seq"] for f in await drain(visitor, 0.5) if f["type"] == "message.created"]
    assert live == [102]
    await visitor.disconnect()
    await agent.disconnect()


async def test_resume_too_far_back_is_answered_with_resync(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()

    def fill():
        Message.objects.bulk_create(
            [
                Message(tenant_id=conv.tenant_id, conversation_id=conv.pk, seq=i, sender_kind="agent", body=f"m{i}")
                for i in range(1, 1106)
            ]
        )
        Conversation.objects.filter(pk=conv.pk).update(last_seq=1105)

    await sync_to_async(fill)()
    visitor = await visitor_ws(token)
    await send(visitor, type="subscribe", conversation_id=conv.pk, last_seq=3)
    resync = await recv(visitor)
    assert resync == {
        "type": "resync",
        "conversation_id": conv.pk,
        "from_seq": 3,
        "last_seq": 1105,
        "reason": "gap_too_large",
    }
    assert (await recv(visitor))["type"] == "subscribed"
    # within the limit the gap is replayed from the database, across several pages
    replayed = await subscribe(visitor, conv.pk, last_seq=105)
    assert [f["message"]["seq"] for f in replayed] == list(range(106, 1106))
    await visitor.disconnect()


async def test_resume_beyond_the_servers_last_seq_tells_the_client_to_drop_what_it_holds_above_it(im_a):
    # A point-in-time restore or a failover that lost the last commits: the client saw seq 7, the
    # database now ends at 2, and the next message will be seq 3 again.
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    for i in range(2):
        await sync_to_async(message_create)(conversation_id=conv.pk, sender_kind="agent", body=f"kept {i}")
    visitor = await visitor_ws(token)
    await send(visitor, type="subscribe", conversation_id=conv.pk, last_seq=7)
    assert await recv(visitor) == {
        "type": "resync",
        "conversation_id": conv.pk,
        "from_seq": 7,
        "last_seq": 2,
        "reason": "ahead_of_server",
    }
    subscribed = await recv(visitor)
    assert (subscribed["type"], subscribed["last_seq"]) == ("subscribed", 2)
    agent = await agent_ws(im_a.org.agent_sh)
    await send(agent, type="send", conversation_id=conv.pk, client_msg_id="after-restore", body="new")
    live = [f["message"] for f in await drain(visitor, 0.5) if f["type"] == "message.created"]
    assert [(m["seq"], m["body"]) for m in live] == [(3, "new")]
    await visitor.disconnect()
    await agent.disconnect()


async def test_visitor_token_cannot_read_or_write_another_conversation(im_a, im_b):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    other, _c2, _t2 = await sync_to_async(im_a.conversation)()
    foreign, _c3, _t3 = await sync_to_async(im_b.conversation)()
    await sync_to_async(message_create)(conversation_id=other.pk, sender_kind="agent", body="private")
    visitor = await visitor_ws(token)
    for target in (other.pk, foreign.pk, 999999):
        await send(visitor, type="send", conversation_id=target, client_msg_id="x", body="let me in")
        assert (await recv(visitor))["code"] == "not_found"
        await send(visitor, type="subscribe", conversation_id=target, last_seq=0)
        assert (await recv(visitor))["code"] == "not_found"
        await send(visitor, type="read", conversation_id=target, seq=1)
        assert (await recv(visitor))["code"] == "not_found"
    assert await sync_to_async(_count)(other.pk) == 1
    assert await sync_to_async(_count)(foreign.pk) == 0
    # a message published to the other conversation never reaches this socket
    await sync_to_async(message_create)(conversation_id=other.pk, sender_kind="agent", body="still private")
    assert await drain(visitor) == []
    await visitor.disconnect()


async def test_agent_only_reaches_conversations_in_their_scope(im_a):
    conv, _customer, _token = await sync_to_async(im_a.conversation)(agent=im_a.org.agent_pd)
    outsider = await agent_ws(im_a.org.agent_south)
    await send(outsider, type="subscribe", conversation_id=conv.pk, last_seq=0)
    assert (await recv(outsider))["code"] == "not_found"
    await send(outsider, type="send", conversation_id=conv.pk, body="hi")
    assert (await recv(outsider))["code"] == "not_found"
    supervisor = await agent_ws(im_a.org.sup_east)  # East contains Shanghai > Pudong
    assert await subscribe(supervisor, conv.pk, 0) == []
    await outsider.disconnect()
    await supervisor.disconnect()


async def test_foreign_origin_and_bad_credentials_are_refused(im_a):
    _conv, _customer, token = await sync_to_async(im_a.conversation)()
    assert await visitor_ws(token, origin="https://evil.example.net") is None
    assert await visitor_ws(token, origin=None) is None  # a web channel needs its page's Origin
    assert await visitor_ws(token + "x") is None
    assert await visitor_ws("") is None
    assert await agent_ws(im_a.org.agent_sh, origin="https://evil.example.net") is None
    ok = await agent_ws(im_a.org.agent_sh, origin="http://kefu.example.com", host="kefu.example.com")
    assert ok is not None
    await ok.disconnect()
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    anonymous = WebsocketCommunicator(application, "/ws/agent/")
    connected, _ = await anonymous.connect()
    assert not connected


async def test_malformed_oversized_and_unknown_frames_get_an_error_and_change_nothing(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    bad = [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        (json.dumps({"type": "explode", "conversation_id": conv.pk}), "unknown_type"),
        (json.dumps({"conversation_id": conv.pk, "body": "no type"}), "unknown_type"),
        (json.dumps({"type": "send", "conversation_id": conv.pk, "body": "x" * 40000}), "frame_too_large"),
        (json.dumps({"type": "send", "conversation_id": str(conv.pk), "body": "hi"}), "invalid_frame"),
        (json.dumps({"type": "send", "conversation_id": conv.pk, "body": 5}), "invalid_frame"),
        (json.dumps({"type": "send", "conversation_id": conv.pk, "body": "   "}), "empty_message"),
        (json.dumps({"type": "send", "conversation_id": conv.pk, "body": "y" * 5001}), "message_too_long"),
        (
            json.dumps({"type": "send", "conversation_id": conv.pk, "body": "hi", "client_msg_id": "z" * 65}),
            "invalid_client_msg_id",
        ),
        (json.dumps({"type": "send", "conversation_id": conv.pk, "body": "hi", "visibility": "staff"}), "forbidden"),
        (json.dumps({"type": "subscribe", "conversation_id": conv.pk, "last_seq": -1}), "invalid_frame"),
        (json.dumps({"type": "read", "conversation_id": conv.pk, "seq": 99}), "invalid_seq"),
    ]
    for text, code in bad:
        await visitor.send_to(text_data=text)
        frame = await recv(visitor)
        assert (frame["type"], frame["code"]) == ("error", code), text[:60]
        assert frame["message"]
    await visitor.send_to(text_data="{oops")
    assert (await recv(visitor))["message"] == "帧不是有效的 JSON。"  # Chinese first
    await visitor.send_to(bytes_data=b"\x00\x01")
    assert (await recv(visitor))["code"] == "invalid_json"
    assert await sync_to_async(_count)(conv.pk) == 0
    refreshed = await sync_to_async(Conversation.objects.get)(pk=conv.pk)
    assert refreshed.last_seq == 0
    await send(visitor, type="ping", ref="p1")  # and the socket is still fine
    pong = await recv(visitor)
    assert pong["type"] == "pong" and pong["ref"] == "p1"
    await visitor.disconnect()


async def test_staff_only_messages_never_reach_visitors(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    agent = await agent_ws(im_a.org.agent_sh)
    await subscribe(visitor, conv.pk, 0)
    await subscribe(agent, conv.pk, 0)
    await send(agent, type="send", conversation_id=conv.pk, body="internal: VIP, be nice", visibility="staff")
    await send(agent, type="send", conversation_id=conv.pk, body="Hello!")
    agent_msgs = [f["message"]["body"] for f in await drain(agent) if f["type"] == "message.created"]
    assert agent_msgs == ["internal: VIP, be nice", "Hello!"]
    live = await drain(visitor)
    assert [f["message"]["body"] for f in live if f["type"] == "message.created"] == ["Hello!"]
    assert "internal" not in json.dumps(live)
    await visitor.disconnect()
    visitor = await visitor_ws(token)  # and not in the replay either
    replayed = await subscribe(visitor, conv.pk, 0)
    assert [f["message"]["body"] for f in replayed] == ["Hello!"]
    await visitor.disconnect()
    await agent.disconnect()


async def test_typing_and_read_receipts_reach_the_other_side(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    agent = await agent_ws(im_a.org.agent_sh)
    await subscribe(visitor, conv.pk, 0)
    await subscribe(agent, conv.pk, 0)
    await send(visitor, type="typing", conversation_id=conv.pk, is_typing=True)
    typing = await recv(agent)
    assert (typing["type"], typing["sender_kind"], typing["is_typing"]) == ("typing", "visitor", True)
    assert await drain(visitor) == []  # no echo of one's own typing
    await send(visitor, type="send", conversation_id=conv.pk, body="hi")
    await drain(visitor)
    await drain(agent)
    await send(agent, type="read", conversation_id=conv.pk, seq=1)
    read = await recv(visitor)
    assert read == {"type": "read", "conversation_id": conv.pk, "reader_kind": "agent", "reader_id": None, "seq": 1}
    mark = await sync_to_async(
        lambda: Participant.objects.get(conversation=conv, user=im_a.org.agent_sh).last_read_seq
    )()
    assert mark == 1
    await visitor.disconnect()
    await agent.disconnect()


async def test_visitor_starts_a_conversation_and_joins_the_open_one_on_reconnect(im_a):
    _customer, token = await sync_to_async(im_a.visitor)()
    visitor = await visitor_ws(token)
    assert visitor.hello["conversations"] == []
    await send(visitor, type="start", ref="s")
    started = await recv(visitor)
    assert started["type"] == "started" and started["created"] is True and started["ref"] == "s"
    subscribed, _ = await recv_until(visitor, "subscribed")
    assert subscribed["conversation_id"] == started["conversation_id"]
    await send(visitor, type="send", conversation_id=started["conversation_id"], body="I need help")
    ack, _ = await recv_until(visitor, "ack")
    assert ack["seq"] == 1
    await visitor.disconnect()
    again = await visitor_ws(token)
    assert [c["id"] for c in again.hello["conversations"]] == [started["conversation_id"]]
    await send(again, type="start")
    assert (await recv(again))["created"] is False
    await again.disconnect()


async def test_agent_connection_reports_presence_to_the_connection_hook(im_a):
    calls = []
    account_hooks._connection_changed.append(lambda **kw: calls.append((kw["agent"].pk, kw["connected"])))
    try:
        agent = await agent_ws(im_a.org.agent_sh)
        await agent.disconnect()
    finally:
        account_hooks._connection_changed.pop()
    assert calls == [(im_a.org.agent_sh.pk, True), (im_a.org.agent_sh.pk, False)]


async def test_an_agent_heartbeat_refreshes_presence_in_redis_only_and_revives_a_silent_connection(im_a, monkeypatch):
    from django.utils import timezone

    from apps.messaging import consumers, presence
    from apps.routing.models import AgentPresence

    monkeypatch.setattr(consumers, "PRESENCE_REFRESH", 0.0)
    user = im_a.org.agent_sh
    key = presence.agent_key(user.pk)
    calls = []
    account_hooks._connection_changed.append(lambda **kw: calls.append((kw["connected"], kw["channel_name"])))
    try:
        agent = await agent_ws(user)
        assert [c[0] for c in calls] == [True]
        channel_name = calls[0][1]
        await send(agent, type="ping", ref="hb")
        assert (await recv(agent))["type"] == "pong"
        assert len(calls) == 1  # a live connection's heartbeat: Redis only, no hook, no row written
        assert await sync_to_async(presence.live_connections)(key) == 1
        # A long pause: the connection stopped counting and the sweep started the grace period.
        await sync_to_async(presence.connection_gone)(key, channel_name)
        await sync_to_async(AgentPresence.objects.filter(agent=user).update)(disconnected_at=timezone.now())
        await send(agent, type="ping", ref="hb2")
        assert (await recv(agent))["type"] == "pong"
        assert calls[1] == (True, channel_name)  # it counts as connecting again
        assert await sync_to_async(presence.live_connections)(key) == 1
        assert (await sync_to_async(AgentPresence.objects.get)(agent=user)).disconnected_at is None
        await agent.disconnect()
    finally:
        account_hooks._connection_changed.pop()
    assert await sync_to_async(presence.live_connections)(key) == 0


async def test_a_flooding_connection_is_rate_limited_and_writes_nothing_beyond_the_burst(im_a, settings):
    settings.IM_FRAME_RATE, settings.IM_FRAME_BURST = 1, 5
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    for i in range(8):
        await send(visitor, type="send", conversation_id=conv.pk, client_msg_id=f"f{i}", body="spam")
    frames = await drain(visitor)
    assert [f["type"] for f in frames if f["type"] in ("ack", "error")] == ["ack"] * 5 + ["error"] * 3
    assert {f["code"] for f in frames if f["type"] == "error"} == {"rate_limited"}
    assert await sync_to_async(_count)(conv.pk) == 5
    await visitor.disconnect()


async def test_a_conversation_event_reaches_a_subscribed_agent_in_its_audience_once(im_a):
    """Lifecycle events go to the audience's own groups, not to the conversation's: an agent who
    is both subscribed and in the audience gets one copy (nothing is de-duplicated by the socket)."""
    from apps.messaging.publish import publish_conversation_event

    conv, _customer, _token = await sync_to_async(im_a.conversation)()
    agent = await agent_ws(im_a.org.agent_sh)
    await subscribe(agent, conv.pk, 0)
    event = {"type": "conversation.closed", "conversation_id": conv.pk, "reason": "test"}

    def publish_in_a_transaction():
        from django.db import transaction

        with transaction.atomic():
            publish_conversation_event(conv, event, also_user_ids=(im_a.org.agent_sh.pk,))

    await sync_to_async(publish_in_a_transaction)()
    assert [f for f in await drain(agent) if f["type"] == "conversation.closed"] == [event]
    await agent.disconnect()


async def test_typing_on_off_on_arrives_whole(im_a):
    """No "identical event within 2 s" filter: the second `on` is a real event."""
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    agent = await agent_ws(im_a.org.agent_sh)
    await subscribe(agent, conv.pk, 0)
    visitor = await visitor_ws(token)
    for on in (True, False, True):
        await send(visitor, type="typing", conversation_id=conv.pk, is_typing=on)
    frames = [f for f in await drain(agent, wait=0.5) if f["type"] == "typing"]
    assert [f["is_typing"] for f in frames] == [True, False, True]
    await agent.disconnect()
    await visitor.disconnect()


async def test_a_lost_wake_up_is_caught_up_by_the_next_heartbeat(im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    await subscribe(visitor, conv.pk, 0)

    def committed_without_wake_up():
        # as if the channel layer had dropped the event (overflow or expiry under overload)
        Message.objects.create(
            tenant_id=conv.tenant_id, conversation_id=conv.pk, seq=1, sender_kind="agent", body="lost?"
        )
        Conversation.objects.filter(pk=conv.pk).update(last_seq=1)

    await sync_to_async(committed_without_wake_up)()
    assert await drain(visitor) == []
    await send(visitor, type="ping", ref="hb")
    caught_up = await recv(visitor)
    assert (caught_up["type"], caught_up["message"]["body"]) == ("message.created", "lost?")
    assert (await recv(visitor))["type"] == "pong"
    await visitor.disconnect()


async def test_concurrent_sends_share_transactions_and_keep_each_conversations_order(im_a):
    from apps.messaging.writer import get_writer

    pairs = []
    for _ in range(6):
        conv, _customer, token = await sync_to_async(im_a.conversation)()
        pairs.append((conv, await visitor_ws(token)))
    agent = await agent_ws(im_a.org.agent_sh)
    for conv, _ws in pairs:
        await subscribe(agent, conv.pk, 0)
    writer = get_writer()
    batches0, messages0 = writer.batches, writer.messages
    for i in range(4):
        for conv, ws in pairs:  # every socket's next send is in flight at once
            await send(ws, type="send", conversation_id=conv.pk, client_msg_id=f"x{i}", body=f"b{i}")
        for _conv, ws in pairs:
            ack, _before = await recv_until(ws, "ack")
            assert ack["seq"] == i + 1 and not ack["duplicate"]
    assert writer.messages - messages0 == 24
    assert writer.batches - batches0 < 24  # sends that arrive together are committed together
    frames = [f for f in await drain(agent, 0.5) if f["type"] == "message.created"]
    for conv, _ws in pairs:
        assert [f["message"]["body"] for f in frames if f["conversation_id"] == conv.pk] == ["b0", "b1", "b2", "b3"]
    for _conv, ws in pairs:
        await ws.disconnect()
    await agent.disconnect()
