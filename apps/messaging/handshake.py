"""Who is on the other end of a websocket, decided once at the handshake and cheaply.

Channels' AuthMiddlewareStack resolves `scope["user"]` for every websocket, visitors included,
through `database_sync_to_async` on the one thread-sensitive thread of the process: every
handshake of the server queues behind every other one's session and user queries (a reconnect
storm after a deploy took half a minute). Here:

- no session cookie (visitor widgets, apps): AnonymousUser, no thread, no query;
- a session cookie: Django's own `auth.get_user` (session load, backend, user, session hash check;
  a stale hash flushes the session, as on HTTP) in one call on the thread pool, so handshakes
  run side by side.

Consumers read only `scope["user"]`; nothing on a websocket writes the session.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from apps.messaging.dbthreads import im_db


def _session_key(scope) -> str | None:
    # Parsed as Django parses an HTTP request's cookies (lenient with other sites' odd cookies).
    header = "; ".join(value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"cookie")
    return parse_cookie(header).get(settings.SESSION_COOKIE_NAME) or None if header else None


def _user_for_session(session_key: str):
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # auth.get_user reads (and on a stale hash flushes) request.session only.
    return auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]  # a request with only .session


_load_user = im_db(_user_for_session)


class StaffSessionMiddleware:
    """Sets scope["user"] for websocket connections (see the module's docstring)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        session_key = _session_key(scope)
        user = AnonymousUser() if session_key is None else await _load_user(session_key)
        return await self.inner({**scope, "user": user}, receive, send)
