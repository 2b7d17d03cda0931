"""The bare relay: the ceiling our IM layer is compared with (issue 16).

A minimal Channels application on daphne that speaks just enough of the protocol for
bench/im_load.py: an agent socket joins one channel-layer group per conversation it serves, a
visitor's `send` frame is acknowledged and forwarded to that group as a `message.created` frame.
No database, no access checks, no persistence: the same daphne, the same Django settings and the
same channel layer (settings.CHANNEL_LAYERS) as the real server, nothing else.

    IM_RELAY_DATA=var/bench/im.json daphne -b 127.0.0.1 -p 8200 bench.im_relay:application

Who serves which conversation comes from the bench data file (`manage.py im_bench_prepare`):
the agent's session key and the visitor's token are looked up there, never verified.
"""

from __future__ import annotations

import json
import os
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

import django
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()  # settings and the channel layer only; no query is ever made

with open(os.environ.get("IM_RELAY_DATA", "var/bench/im.json")) as _fh:
    _DATA = json.load(_fh)
_COOKIE = _DATA["session_cookie_name"]
_AGENT_CONVERSATIONS: dict[str, list[int]] = {}
for _pair in _DATA["pairs"]:
    _session = _DATA["agents"][_pair["agent"]]["session"]
    _AGENT_CONVERSATIONS.setdefault(_session, []).append(_pair["conversation_id"])
_VISITOR_CONVERSATION = {p["visitor_token"]: p["conversation_id"] for p in _DATA["pairs"]}


def _group(conversation_id: int) -> str:
    return f"relay.conv.{conversation_id}"


class AgentRelay(AsyncWebsocketConsumer):
    async def connect(self):
        cookie = SimpleCookie()
        for key, value in self.scope["headers"]:
            if key == b"cookie":
                cookie.load(value.decode("latin-1"))
        session = cookie[_COOKIE].value if _COOKIE in cookie else None
        conversations = _AGENT_CONVERSATIONS.get(session)
        if not conversations:
            await self.close(code=4401)
            return
        for conversation_id in conversations:
            await self.channel_layer.group_add(_group(conversation_id), self.channel_name)
        await self.accept()
        hello = {
            "type": "hello",
            "conversations": [{"id": c, "status": "active", "last_seq": 0} for c in conversations],
        }
        await self.send(text_data=json.dumps(hello))

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        if frame.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))

    async def relay_message(self, message):
        await self.send(text_data=message["text"])


class VisitorRelay(AsyncWebsocketConsumer):
    async def connect(self):
        token = (parse_qs(self.scope["query_string"].decode("latin-1")).get("token") or [None])[0]
        self.conversation_id = _VISITOR_CONVERSATION.get(token)
        if self.conversation_id is None:
            await self.close(code=4401)
            return
        self.seq = 0
        await self.accept()
        hello = {"type": "hello", "conversations": [{"id": self.conversation_id, "status": "active", "last_seq": 0}]}
        await self.send(text_data=json.dumps(hello))

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        ftype = frame.get("type")
        if ftype == "send" and frame.get("conversation_id") == self.conversation_id:
            self.seq += 1
            message = {
                "seq": self.seq,
                "client_msg_id": frame.get("client_msg_id"),
                "sender_kind": "visitor",
                "body": frame.get("body", ""),
            }
            out = {"type": "message.created", "conversation_id": self.conversation_id, "message": message}
            await self.channel_layer.group_send(
                _group(self.conversation_id), {"type": "relay.message", "text": json.dumps(out)}
            )
            ack = {
                "type": "ack",
                "conversation_id": self.conversation_id,
                "seq": self.seq,
                "client_msg_id": frame.get("client_msg_id"),
            }
            await self.send(text_data=json.dumps(ack))
        elif ftype == "subscribe":
            await self.send(text_data=json.dumps({"type": "subscribed", "conversation_id": self.conversation_id}))
        elif ftype == "ping":
            await self.send(text_data=json.dumps({"type": "pong"}))


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter([path("ws/agent/", AgentRelay.as_asgi()), path("ws/visitor/", VisitorRelay.as_asgi())]),
    }
)
