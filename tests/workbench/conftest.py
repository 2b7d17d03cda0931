"""Workbench fixtures: conversations built through the real services, the assignment written the
way dispatch records it (assignee + a lifecycle row naming the agent)."""

from __future__ import annotations

import asyncio
import functools
import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone

from apps.channels.models import Channel
from apps.conversations.models import ConversationStatus, Participant, ParticipantKind
from apps.conversations.services import conversation_event_record
from apps.customers.models import Customer
from apps.messaging.services import message_create
from apps.routing.intake import conversation_intake
from tests.support.live import live_server_url  # noqa: F401  (fixture for the browser tests)
from tests.workbench.browser import browser  # noqa: F401  (fixture)

_n = itertools.count()


def off_loop(fn):
    """Run on a plain thread when this one has an event loop (playwright's sync API keeps one):
    publishing to the channel layer uses async_to_sync, which refuses to run beside a loop."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(*args, **kwargs)

        def call():
            try:
                return fn(*args, **kwargs)
            finally:
                connections.close_all()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(call).result()

    return wrapper


class Factory:
    def __init__(self, org):
        self.org = org
        self.channel = Channel.objects.create(tenant=org.tenant, name="官网", branch=org.sh, kind="app")
        self.app_channel = Channel.objects.create(tenant=org.tenant, name="App", branch=org.sh, kind="app")

    def customer(self, name="张三", **kw) -> Customer:
        return Customer.objects.create(tenant=self.org.tenant, display_name=name, **kw)

    @off_loop
    def conversation(self, *, agent=None, customer=None, channel=None, name="张三"):
        conv = conversation_intake(channel=channel or self.channel, customer=customer or self.customer(name))
        if agent is not None:
            self.assign(conv, agent)
        return conv

    @off_loop
    def assign(self, conv, agent):
        previous = conv.status
        conv.assignee = agent
        conv.status = ConversationStatus.ACTIVE
        conv.assigned_at = timezone.now()
        conv.save(update_fields=["assignee", "status", "assigned_at"])
        Participant.objects.get_or_create(
            tenant_id=conv.tenant_id, conversation=conv, kind=ParticipantKind.AGENT, user=agent
        )
        conversation_event_record(
            conversation=conv, kind="assigned", from_status=previous, to_status="active", agent=agent, actor=agent
        )
        return conv

    @off_loop
    def close(self, conv, actor=None):
        previous = conv.status
        conv.status = ConversationStatus.CLOSED
        conv.closed_at = timezone.now()
        conv.open_key = None
        conv.save(update_fields=["status", "closed_at", "open_key"])
        conversation_event_record(
            conversation=conv, kind="closed", from_status=previous, to_status="closed", agent=conv.assignee, actor=actor
        )
        return conv

    @off_loop
    def visitor_says(self, conv, body):
        return message_create(conversation_id=conv.pk, sender_kind="visitor", body=body, client_msg_id=f"v{next(_n)}")

    @off_loop
    def agent_says(self, conv, agent, body):
        return message_create(
            conversation_id=conv.pk, sender_kind="agent", sender_user=agent, body=body, client_msg_id=f"a{next(_n)}"
        )


@pytest.fixture
def fa(org_a):
    return Factory(org_a)


@pytest.fixture
def fb(org_b):
    return Factory(org_b)


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@off_loop
def visitor_typing(conv, is_typing=True):
    from apps.messaging.services import typing_notify

    typing_notify(conversation=conv, sender_kind="visitor", sender_name=str(conv.customer), is_typing=is_typing)


@off_loop
def visitor_reads(conv):
    from apps.conversations.models import Conversation
    from apps.messaging.services import read_mark

    conv = Conversation.objects.get(pk=conv.pk)
    return read_mark(conversation=conv, seq=conv.last_seq, reader_kind="visitor")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing browser test prints what its pages saw on the websocket and the console."""
    outcome = yield
    report = outcome.get_result()
    from tests.workbench import browser as b

    if report.when == "call" and report.failed:
        for _page, log in b.PAGES:
            report.sections.append(("page log", "\n".join(log[-80:])))
    if report.when == "teardown":
        b.PAGES.clear()
