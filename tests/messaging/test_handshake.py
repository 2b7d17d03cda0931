"""The websocket handshake's identity (apps.messaging.handshake) through the real ASGI app."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.messaging.handshake import StaffSessionMiddleware, _user_for_session
from config.asgi import application
from tests.messaging.wsutil import agent_ws
from tests.support.live import session_cookie, session_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


async def _agent_connects(cookie: str) -> bool:
    comm = WebsocketCommunicator(application, "/ws/agent/", headers=[(b"cookie", cookie.encode())])
    connected, _ = await comm.connect(timeout=5)
    if connected:
        await comm.disconnect()
    return connected


async def _scope_user(headers):
    seen = {}

    async def inner(scope, receive, send):
        seen["user"] = scope["user"]

    await StaffSessionMiddleware(inner)({"type": "websocket", "headers": headers}, None, None)
    return seen["user"]


async def test_a_staff_session_cookie_among_other_cookies_authenticates(im_a):
    cookie = await sync_to_async(session_cookie)(im_a.org.agent_sh)
    # another site's odd cookie next to ours (Django's lenient parsing, as on HTTP)
    assert await _agent_connects(f'_ga=GA1.2.3; weird="a b; c"; {cookie}; theme=dark')
    comm = await agent_ws(im_a.org.agent_sh)
    assert comm.hello["user_id"] == im_a.org.agent_sh.pk
    await comm.disconnect()


async def test_no_or_unknown_session_is_anonymous_and_refused(im_a):
    assert not await _agent_connects("theme=dark")
    assert not await _agent_connects("sessionid=not-a-session-key")
    user = await _scope_user([(b"cookie", b"theme=dark")])
    assert not user.is_authenticated


async def test_a_session_from_before_a_password_change_no_longer_authenticates(im_a):
    agent = im_a.org.agent_sh
    cookie = await sync_to_async(session_cookie)(agent)
    assert await _agent_connects(cookie)

    def change_password():
        agent.set_password("a-new-password-1234")
        agent.save(update_fields=["password"])

    await sync_to_async(change_password)()
    assert not await _agent_connects(cookie)


async def test_a_handshake_without_our_session_cookie_never_looks_a_user_up(monkeypatch):
    async def must_not_run(_key):
        raise AssertionError("looked up a user for a cookie-less handshake")

    monkeypatch.setattr("apps.messaging.handshake._load_user", must_not_run)
    user = await _scope_user([(b"origin", b"https://shop.example.com"), (b"cookie", b"theme=dark")])
    assert not user.is_authenticated


def test_a_staff_session_costs_two_queries(im_a):
    key = session_key_for(im_a.org.agent_sh)
    with CaptureQueriesContext(connection) as queries:
        user = _user_for_session(key)
    assert user.pk == im_a.org.agent_sh.pk
    assert len(queries) == 2  # the session row, the user
