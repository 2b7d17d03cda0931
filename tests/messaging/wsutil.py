"""Helpers for websocket tests through Channels' communicator (the real ASGI app and routing)."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from tests.messaging.conftest import ORIGIN
from tests.support.live import session_cookie


async def visitor_ws(token: str, origin: str | None = ORIGIN):
    headers = [(b"origin", origin.encode())] if origin else []
    comm = WebsocketCommunicator(application, f"/ws/visitor/?token={token}", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    if not connected:
        return None
    hello = await comm.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    comm.hello = hello
    return comm


async def agent_ws(user, origin: str | None = None, host: str = "testserver"):
    cookie = await sync_to_async(session_cookie)(user)
    headers = [(b"cookie", cookie.encode()), (b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    if not connected:
        return None
    hello = await comm.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    comm.hello = hello
    return comm


async def send(comm, **frame):
    await comm.send_to(text_data=json.dumps(frame))


async def recv(comm, timeout: float = 5):
    """The next frame that is not another layer's event."""
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] not in NOISE:
            return frame


async def recv_until(comm, ftype: str, timeout: float = 5) -> tuple[dict, list[dict]]:
    """Receive frames until one of `ftype`; return it and the frames before it."""
    before = []
    while True:
        frame = await recv(comm, timeout)
        if frame["type"] == ftype:
            return frame, before
        if frame["type"] not in NOISE:
            before.append(frame)


# Events other layers (dispatch) publish to staff connections while these tests run.
NOISE = {"agent.status", "queue.changed", "conversation.queued", "conversation.updated"}


async def drain(comm, wait: float = 0.3) -> list[dict]:
    """Every frame that arrives within `wait` seconds of quiet."""
    frames = []
    # receive_nothing() does not cancel the app on timeout, unlike receive_output().
    while not await comm.receive_nothing(timeout=wait, interval=0.02):
        frame = await comm.receive_json_from(timeout=1)
        if frame["type"] not in NOISE:
            frames.append(frame)
    return frames


async def subscribe(comm, conversation_id: int, last_seq: int = 0) -> list[dict]:
    """Subscribe and return the replayed message frames (other events, e.g. dispatch's, are skipped)."""
    await send(comm, type="subscribe", conversation_id=conversation_id, last_seq=last_seq)
    done, before = await recv_until(comm, "subscribed")
    return messages(before)


def messages(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f["type"] == "message.created"]
