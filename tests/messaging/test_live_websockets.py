"""Against a real daphne (separate process, Redis channel layer) with the `websockets` client."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from tests.messaging.conftest import ORIGIN
from tests.support.live import session_cookie, ws_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


async def _frames_until(ws, predicate, timeout=15.0):
    out = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            out.append(frame)
            if predicate(frame):
                return out


async def _agent_sender(url, cookie, conversation_id, count, pace=0.01):
    """Sends `count` messages, each after the previous ack, backing off when rate limited."""
    async with connect(url, additional_headers={"Cookie": cookie}) as ws:
        await ws.recv()  # hello
        i = 0
        while i < count:
            await ws.send(
                json.dumps(
                    {
                        "type": "send",
                        "conversation_id": conversation_id,
                        "client_msg_id": f"m{i}",
                        "body": f"message {i}",
                    }
                )
            )
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "ack":
                    i += 1
                    break
                if frame["type"] == "error":
                    assert frame["code"] == "rate_limited", frame
                    await asyncio.sleep(0.05)
                    break
            await asyncio.sleep(pace)


async def test_client_dropping_mid_stream_gets_all_100_exactly_once_in_order(live_server_url, im_a):
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    cookie = await sync_to_async(session_cookie)(im_a.org.agent_sh)
    visitor_url = ws_url(live_server_url, f"/ws/visitor/?token={token}")
    received: list[int] = []

    ws = await connect(visitor_url, origin=ORIGIN)
    await ws.recv()  # hello
    await ws.send(json.dumps({"type": "subscribe", "conversation_id": conv.pk, "last_seq": 0}))
    await _frames_until(ws, lambda f: f["type"] == "subscribed")
    # 100 messages over about 55 s; the visitor is gone for 60 s of that.
    sender = asyncio.create_task(_agent_sender(ws_url(live_server_url, "/ws/agent/"), cookie, conv.pk, 100, pace=0.55))
    for frame in await _frames_until(ws, lambda f: f["type"] == "message.created" and f["message"]["seq"] >= 10):
        if frame["type"] == "message.created":
            received.append(frame["message"]["seq"])
    ws.transport.abort()  # the network drops; no close handshake
    await asyncio.sleep(60)  # messages keep flowing meanwhile

    async with connect(visitor_url, origin=ORIGIN) as ws:
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "resume", "conversation_id": conv.pk, "last_seq": received[-1]}))
        frames = await _frames_until(
            ws, lambda f: f["type"] == "message.created" and f["message"]["seq"] == 100, timeout=30
        )
        received += [f["message"]["seq"] for f in frames if f["type"] == "message.created"]
        await sender
        # nothing else is pending for this socket
        await ws.send(json.dumps({"type": "ping", "ref": "last"}))
        tail = await _frames_until(ws, lambda f: f["type"] == "pong")
        assert [f for f in tail if f["type"] == "message.created"] == []
    assert received == list(range(1, 101))


async def test_live_server_refuses_a_foreign_origin(live_server_url, im_a):
    _conv, _customer, token = await sync_to_async(im_a.conversation)()
    cookie = await sync_to_async(session_cookie)(im_a.org.agent_sh)
    # daphne answers "403 Access denied" and drops the socket at once; depending on timing the
    # client reads the 403 or only sees the connection closed during the handshake.
    with pytest.raises(InvalidHandshake) as refused:
        await connect(ws_url(live_server_url, f"/ws/visitor/?token={token}"), origin="https://evil.example.net")
    if isinstance(refused.value, InvalidStatus):
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidHandshake):
        await connect(
            ws_url(live_server_url, "/ws/agent/"),
            origin="https://evil.example.net",
            additional_headers={"Cookie": cookie},
        )
    async with connect(ws_url(live_server_url, f"/ws/visitor/?token={token}"), origin=ORIGIN) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
