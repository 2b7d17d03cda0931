"""Events reach their audience and nobody else, over a real daphne (tests.support.live): each
staff member has a socket open on /ws/agent/; a conversation's lifecycle events arrive on the
sockets of those who may see it and on no other. A disabled user's open socket is closed at
once, and a socket whose user lost a conversation stops receiving it and cannot send to it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.access.conftest import IN_REACH
from tests.support.live import live_server_url, session_cookie, ws_url  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

WATCHERS = ["assignee", "colleague", "agent_south", "sup_east", "sup_south", "admin", "other_admin", "former"]


async def _open(url: str, user):
    cookie = await sync_to_async(session_cookie)(user)
    ws = await connect(url, additional_headers={"Cookie": cookie})
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    return ws


async def _collect(ws, seconds: float) -> list[dict]:
    """Every frame that arrives within `seconds` (the listening window after a known event)."""
    frames = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                frames.append(json.loads(await ws.recv()))
    except TimeoutError:
        pass
    return frames


async def _until(ws, predicate, timeout: float = 10.0) -> list[dict]:
    frames = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if predicate(frame):
                return frames


def _about(frames: list[dict], conversation_id: int) -> list[dict]:
    def cid(f):
        return f.get("conversation_id") or (f.get("conversation") or {}).get("id")

    return [f for f in frames if cid(f) == conversation_id]


async def test_lifecycle_events_reach_the_audience_and_no_other_socket(live_server_url, world):  # noqa: F811
    from apps.conversations import services as conversation_services
    from apps.routing import waiting

    url = ws_url(live_server_url, "/ws/agent/")
    sockets = {name: await _open(url, world.actors[name]) for name in WATCHERS}
    try:
        # conversation.updated (waiting for the customer) and conversation.closed of the served
        # conversation, and an update of the South one in between.
        await sync_to_async(waiting.conversation_wait)(conversation_id=world.served.pk, actor=world.assignee)
        await sync_to_async(waiting.conversation_wait)(conversation_id=world.south.pk, actor=world.south_agent)
        await sync_to_async(conversation_services.conversation_close)(
            conversation_id=world.served.pk, actor=world.assignee
        )
        # The last event reaches everyone in the audience; then a quiet window for the others.
        for name in IN_REACH & set(WATCHERS):
            frames = await _until(sockets[name], lambda f: f["type"] == "conversation.closed", timeout=15)
            got = [f["type"] for f in _about(frames, world.served.pk)]
            assert "conversation.updated" in got and "conversation.closed" in got, (name, got)
            assert got.count("conversation.closed") == 1, (name, got)  # once: no duplicate copies
        for name in set(WATCHERS) - IN_REACH:
            frames = await _collect(sockets[name], 1.0)
            leaked = _about(frames, world.served.pk)
            assert not leaked, (name, leaked)
        # The South conversation's event went to South's people, not to the East supervisor.
        east = await _collect(sockets["sup_east"], 0.5)
        assert not _about(east, world.south.pk)
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_a_disabled_users_open_socket_is_closed_within_a_second_and_cannot_send(live_server_url, world):  # noqa: F811
    from apps.accounts import services as account_services
    from apps.messaging.models import Message

    url = ws_url(live_server_url, "/ws/agent/")
    ws = await _open(url, world.assignee)
    await ws.send(json.dumps({"type": "subscribe", "conversation_id": world.served.pk, "last_seq": 0}))
    await _until(ws, lambda f: f["type"] == "subscribed")
    # Measured from the commit (the service's return): the service itself (offline status,
    # dispatch, audit) takes its own time on a loaded machine.
    await sync_to_async(account_services.user_set_active)(user=world.assignee, active=False, actor=world.a.admin)
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    elapsed = time.monotonic() - started
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert elapsed < 1.0, f"closed {elapsed:.2f} s after the commit"
    with pytest.raises(ConnectionClosed):
        await ws.send(
            json.dumps({"type": "send", "conversation_id": world.served.pk, "body": "x", "client_msg_id": "d1"})
        )
        await ws.recv()
    assert not await sync_to_async(Message.objects.filter(client_msg_id="d1").exists)()
    # And a new handshake is refused.
    cookie = await sync_to_async(session_cookie)(world.assignee)
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with connect(url, additional_headers={"Cookie": cookie}) as again:
            await again.recv()


async def test_an_agent_whose_conversation_is_handed_back_stops_receiving_it_and_cannot_send(live_server_url, world):  # noqa: F811
    from apps.conversations import services as conversation_services

    url = ws_url(live_server_url, "/ws/agent/")
    ws = await _open(url, world.assignee)
    try:
        await ws.send(json.dumps({"type": "subscribe", "conversation_id": world.served.pk, "last_seq": 0}))
        await _until(ws, lambda f: f["type"] == "subscribed")
        # A send works (and fills the socket's access cache for this conversation).
        await ws.send(
            json.dumps({"type": "send", "conversation_id": world.served.pk, "body": "您好", "client_msg_id": "ok-1"})
        )
        await _until(ws, lambda f: f["type"] == "ack")
        # The supervisor hands it back to the queue of a skill group the agent is not in.
        from apps.accounts.models import SkillGroup

        group = await sync_to_async(SkillGroup.objects.create)(tenant=world.a.tenant, name="VIP")
        await sync_to_async(conversation_services.conversation_transfer_to_queue)(
            conversation_id=world.served.pk, actor=world.a.sup_east, skill_group_id=group.pk
        )
        frames = await _until(
            ws, lambda f: f["type"] == "unsubscribed" and f.get("conversation_id") == world.served.pk, timeout=5
        )
        assert frames[-1]["reason"] == "access_lost"
        await ws.send(
            json.dumps({"type": "send", "conversation_id": world.served.pk, "body": "还在", "client_msg_id": "no-1"})
        )
        frames = await _until(ws, lambda f: f["type"] in ("error", "ack"))
        assert frames[-1]["type"] == "error" and frames[-1]["code"] == "not_found"
        # Nothing more of it arrives (the visitor writes; the agent is no longer told).
        from apps.messaging.services import message_create

        await sync_to_async(message_create)(
            conversation_id=world.served.pk, sender_kind="visitor", body="人呢", client_msg_id="v-after"
        )
        later = await _collect(ws, 1.0)
        assert not _about(later, world.served.pk), later
    finally:
        await ws.close()
