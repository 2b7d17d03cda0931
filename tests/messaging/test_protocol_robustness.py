"""docs/protocol.md's promises under malformed input: exact Origin checks, `ref` on every error,
deep nesting, lone surrogates and oversized frames answered with an error frame on an open socket."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from apps.messaging import protocol
from tests.messaging.conftest import ORIGIN
from tests.messaging.wsutil import agent_ws, recv, send, visitor_ws
from tests.support.live import ws_url

pytestmark = [pytest.mark.django_db(transaction=True)]

LOOK_ALIKES = [
    "https://shop.example.com.evil.example",
    "https://shop.example.com:8443",
    "http://shop.example.com",
    "https://shop.example.com:443.evil.example",
    "https://user@shop.example.com",
    "https://shop.example.com/path",
    "null",
]


async def test_visitor_origin_must_match_exactly(im_a):
    _conv, _customer, token = await sync_to_async(im_a.conversation)()
    for origin in LOOK_ALIKES:
        assert await visitor_ws(token, origin=origin) is None, origin
    ok = await visitor_ws(token, origin=ORIGIN)
    assert ok is not None
    await ok.disconnect()
    # The widget frame is served by this server: its own origin (scheme, host and port) passes.
    assert await _visitor_connects(token, origin="http://kefu.example.com:8000", host="kefu.example.com:8000")
    for origin in (
        "https://kefu.example.com:8000",
        "http://kefu.example.com",
        "http://kefu.example.com:8000.evil.example.com",
    ):
        assert not await _visitor_connects(token, origin=origin, host="kefu.example.com:8000"), origin


async def _visitor_connects(token: str, *, origin: str, host: str) -> bool:
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    comm = WebsocketCommunicator(
        application, f"/ws/visitor/?token={token}", headers=[(b"origin", origin.encode()), (b"host", host.encode())]
    )
    connected, _ = await comm.connect(timeout=5)
    await comm.disconnect()
    return connected


async def test_agent_origin_must_be_our_own_exactly(im_a, settings):
    agent = im_a.org.agent_sh
    host = "kefu.example.com:8000"
    for origin in (
        "http://kefu.example.com:8000.evil.example.com",
        "http://kefu.example.com",
        "https://kefu.example.com:8000",
        "http://kefu.example.com:8001",
        "http://evil.example.com:8000",
    ):
        assert await agent_ws(agent, origin=origin, host=host) is None, origin
    ok = await agent_ws(agent, origin="http://kefu.example.com:8000", host=host)
    assert ok is not None
    await ok.disconnect()
    settings.KEFU_ORIGINS = ["https://console.example.com"]  # another front-end host, configured
    ok = await agent_ws(agent, origin="https://console.example.com", host=host)
    assert ok is not None
    await ok.disconnect()


def test_visitor_session_refuses_a_look_alike_origin(client, im_a):
    for origin in ("http://127.0.0.1:8000.evil.example.com", "https://shop.example.com.evil.example"):
        response = client.post(
            "/api/v1/visitor/sessions/",
            {"channel_key": im_a.channel.key},
            content_type="application/json",
            HTTP_ORIGIN=origin,
        )
        assert response.status_code == 403 and response.json()["error"]["code"] == "origin_not_allowed"


async def test_every_error_frame_echoes_ref_and_the_socket_stays_open(im_a, settings):
    settings.IM_FRAME_RATE, settings.IM_FRAME_BURST = 0.001, 4
    conv, _customer, token = await sync_to_async(im_a.conversation)()
    visitor = await visitor_ws(token)
    too_large = json.dumps({"type": "send", "ref": "big-1", "conversation_id": conv.pk, "body": "x" * 40000})
    await visitor.send_to(text_data=too_large)
    frame = await recv(visitor)
    assert (frame["code"], frame.get("ref")) == ("frame_too_large", "big-1")
    nested = '{"type": "ping", "ref": 17, "x": ' + "[" * 15000 + "]" * 15000 + "}"
    await visitor.send_to(text_data=nested)
    frame = await recv(visitor)
    assert (frame["code"], frame.get("ref")) == ("invalid_json", 17) and "32" in frame["message"]
    surrogate = '{"type": "send", "ref": "s1", "conversation_id": ' + str(conv.pk) + ', "body": "\\ud800"}'
    await visitor.send_to(text_data=surrogate)
    frame = await recv(visitor)
    assert (frame["code"], frame.get("ref")) == ("invalid_json", "s1")
    await send(visitor, type="ping", ref="alive")  # the socket is still open
    assert (await recv(visitor)) | {"ts": 0} == {"type": "pong", "ts": 0, "ref": "alive"}
    # The burst is spent: the next frame is rate limited, with its ref.
    await send(visitor, type="ping", ref="r9")
    frame = await recv(visitor)
    assert (frame["type"], frame["code"], frame.get("ref")) == ("error", "rate_limited", "r9")
    await visitor.disconnect()


async def test_transport_limit_over_the_real_server(live_server_url, im_a):
    """Through the real daphne (apps.core.webserver): a frame far over max_frame_bytes but under
    the 4 MiB transport ceiling (over daphne's own 1 MiB default) gets frame_too_large with its
    ref, wherever the ref sits, and the socket stays open. A message over the ceiling (one frame,
    or fragments adding up to it) is refused with close code 1009 and the documented reason."""
    _conv, _customer, token = await sync_to_async(im_a.conversation)()
    url = ws_url(live_server_url, f"/ws/visitor/?token={token}")
    ceiling = protocol.TRANSPORT_MAX_BYTES
    async with connect(url, origin=ORIGIN, max_size=None) as ws:
        json.loads(await ws.recv())  # hello
        await ws.send(json.dumps({"ref": "m1", "type": "send", "body": "x" * (2 * 1024 * 1024)}))
        frame = json.loads(await ws.recv())
        assert (frame["type"], frame["code"], frame["ref"]) == ("error", "frame_too_large", "m1")
        # Exactly at the ceiling, with the ref after the body, as JSON.stringify may put it.
        head, tail = '{"type":"send","body":"', '","ref":"at-the-end"}'
        await ws.send(head + "x" * (ceiling - len(head) - len(tail)) + tail)
        frame = json.loads(await ws.recv())
        assert (frame["code"], frame["ref"]) == ("frame_too_large", "at-the-end")
        await ws.send(json.dumps({"type": "ping", "ref": "after"}))
        assert json.loads(await ws.recv())["ref"] == "after"
        await ws.send("x" * (ceiling + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None, "the server must close with a close frame, not drop TCP"
    assert closed.value.rcvd.code == 1009
    assert f"exceeds payload limit of {ceiling} octets" in closed.value.rcvd.reason
    # Fragments count together: three of 1.5 MiB are one 4.5 MiB message.
    async with connect(url, origin=ORIGIN, max_size=None) as ws:
        json.loads(await ws.recv())  # hello
        await ws.send(iter(["x" * (1536 * 1024)] * 3))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.mark.parametrize(
    "body,content_type",
    [
        ('{"subject": ' + "[" * 15000 + "]" * 15000 + "}", "application/json"),
        ('{"subject": "\\ud800"}', "application/json"),
        ("{not json", "application/json"),
    ],
)
def test_rest_answers_malformed_json_with_parse_error(client, im_a, body, content_type):
    _conv, _customer, token = im_a.conversation()
    response = client.post(
        "/api/v1/visitor/conversations/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Visitor {token}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "parse_error"
