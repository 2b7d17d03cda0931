"""A real server for tests: config.asgi.application in daphne, in a forked process, on the
test database.

Use it from a test module or your own conftest:

    from tests.support.live import live_server_url  # noqa: F401  (a pytest fixture)
    from tests.support.live import session_cookie, ws_url

    def test_something(live_server_url, org_a):
        cookie = session_cookie(org_a.agent_sh)           # "sessionid=..."
        url = ws_url(live_server_url, "/ws/agent/")       # "ws://127.0.0.1:PORT/ws/agent/"

`live_server_url` needs `transactional_db` (the server is another process: it only sees what
the test committed). The process is forked, so it inherits the already-configured settings:
the test database name (MariaDB: test_<name>), the private Redis and its key prefix (the
test process and the server share one channel layer and one cache), eager Celery.

SQLite: an in-memory test database cannot be shared with another process, so importing this
module switches the SQLite test database to a file (it must be imported during collection,
before the database is created: that is what importing it from a conftest or test module does).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import tempfile
import time
import traceback
from importlib import import_module

import pytest
from django.conf import settings
from django.db import connections


def _use_file_sqlite_test_db() -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return
    test = db.setdefault("TEST", {})
    name = test.get("NAME")
    if not name or name == ":memory:" or "mode=memory" in str(name):
        test["NAME"] = os.path.join(tempfile.gettempdir(), f"kefu-test-{os.getpid()}.sqlite3")
    # The connection object, if already created, holds the same dict; keep it in step anyway.
    if "default" in getattr(connections, "settings", {}):
        connections["default"].settings_dict.setdefault("TEST", {})["NAME"] = test["NAME"]


_use_file_sqlite_test_db()

_fork = multiprocessing.get_context("fork")
_INHERITED: list = []


def _make_application():
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from config.asgi import application

    return ASGIStaticFilesHandler(application)


class DaphneServerProcess(_fork.Process):
    """daphne on 127.0.0.1 with a free port, reported back through a shared value."""

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__(daemon=True)
        self.host = host
        self.port = _fork.Value("i", 0)
        self.ready = _fork.Event()
        self.errors = _fork.Queue()

    def run(self) -> None:  # in the child
        try:
            # The parent's database sockets must never be used, nor closed, from here: closing
            # a MySQL connection sends QUIT on the socket the parent shares. Keep the objects
            # alive (the child dies by SIGTERM, nothing is finalised) and detach them.
            for conn in connections.all(initialized_only=True):
                _INHERITED.append(conn.connection)
                conn.connection = None
            # Threads do not survive fork: asgiref's one "thread sensitive" executor may believe
            # it still has the worker thread the parent started, and would hang every
            # thread-sensitive call (session auth, DB in consumers). Give the child fresh ones.
            from concurrent.futures import ThreadPoolExecutor

            from asgiref.sync import SyncToAsync

            SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
            from daphne.testing import _reinstall_reactor

            _reinstall_reactor()
            from daphne.endpoints import build_endpoint_description_strings
            from twisted.internet import reactor

            from apps.core.webserver import KefuServer

            # The server the project runs (apps.core.webserver): the same websocket transport limit.
            server = KefuServer(
                application=_make_application(),
                endpoints=build_endpoint_description_strings(host=self.host, port=0),
                signal_handlers=False,
                websocket_handshake_timeout=10,
            )

            def resolve_port():
                if server.listening_addresses:
                    self.port.value = server.listening_addresses[0][1]
                    self.ready.set()
                else:
                    reactor.callLater(0.05, resolve_port)

            reactor.callLater(0.05, resolve_port)
            server.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            self.errors.put((repr(exc), traceback.format_exc()))


class LiveServer:
    def __init__(self):
        self.process = DaphneServerProcess()

    def start(self) -> LiveServer:
        self.process.start()
        deadline = time.monotonic() + 20
        while not self.process.ready.wait(0.1):
            if not self.process.is_alive() or time.monotonic() > deadline:
                detail = (
                    self.process.errors.get(timeout=1)[1] if not self.process.errors.empty() else "no error reported"
                )
                self.stop()
                raise RuntimeError(f"live daphne server did not start:\n{detail}")
        self.port = self.process.port.value
        # The reactor is listening once the port is known; make sure it accepts.
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)


@pytest.fixture
def live_server_url(transactional_db):
    """Base URL ("http://127.0.0.1:PORT") of a real daphne serving config.asgi.application."""
    server = LiveServer().start()
    try:
        yield server.url
    finally:
        server.stop()
        _discard_parent_connections()


def _discard_parent_connections() -> None:
    """The forked server inherited this process's open MySQL sockets, including the one held by
    asgiref's shared executor thread (async tests reach the database through sync_to_async).
    Drop them so the next test reconnects instead of reusing a socket another process touched."""
    from asgiref.sync import SyncToAsync

    executor = SyncToAsync.single_thread_executor
    try:
        executor.submit(connections.close_all).result(timeout=10)
    except Exception:  # noqa: BLE001 - a broken connection is what we are discarding
        pass
    try:
        connections.close_all()
    except Exception:  # noqa: BLE001
        pass


def ws_url(http_url: str, path: str) -> str:
    """The websocket URL for a path on the live server."""
    return http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + path


def session_key_for(user) -> str:
    """A logged-in session for `user` (as after a password login); returns the session key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = (
        settings.AUTHENTICATION_BACKENDS[0]
        if hasattr(settings, "AUTHENTICATION_BACKENDS")
        else "django.contrib.auth.backends.ModelBackend"
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def session_cookie(user) -> str:
    """A Cookie header value ("sessionid=...") that authenticates as `user`."""
    return f"{settings.SESSION_COOKIE_NAME}={session_key_for(user)}"


def browser_cookie(user, url: str) -> dict:
    """The same session as a cookie for playwright's `context.add_cookies([...])`."""
    return {"name": settings.SESSION_COOKIE_NAME, "value": session_key_for(user), "url": url}
