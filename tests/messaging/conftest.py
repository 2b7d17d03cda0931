"""IM fixtures: a web channel with an allowlisted origin, visitors with tokens, conversations."""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.channels.models import Channel
from apps.conversations.models import Conversation, ConversationStatus, Participant, ParticipantKind
from apps.customers.services import customer_resolve_visitor
from apps.messaging import push
from apps.messaging.tasks import push_send
from apps.messaging.visitor import visitor_token_issue
from apps.routing.intake import conversation_intake
from tests.support.live import live_server_url  # noqa: F401  (fixture)

ORIGIN = "https://shop.example.com"
_n = itertools.count()


class IM:
    def __init__(self, org):
        self.org = org
        self.channel = Channel.objects.create(
            tenant=org.tenant, name="Web", kind="web", branch=org.sh, allowed_origins=[ORIGIN]
        )

    def visitor(self):
        customer, visitor_id = customer_resolve_visitor(tenant=self.org.tenant, visitor_id=f"visitor-{next(_n):06d}")
        token, _ = visitor_token_issue(
            tenant_id=self.org.tenant.pk, channel_id=self.channel.pk, customer_id=customer.pk
        )
        return customer, token

    def conversation(self, *, agent=None):
        """A visitor's open conversation, assigned to `agent` (default agent_sh) as dispatch would."""
        customer, token = self.visitor()
        conversation = conversation_intake(channel=self.channel, customer=customer)
        agent = agent or self.org.agent_sh
        Conversation.objects.filter(pk=conversation.pk).update(status=ConversationStatus.ACTIVE, assignee=agent)
        Participant.objects.get_or_create(
            tenant=self.org.tenant, conversation=conversation, kind=ParticipantKind.AGENT, user=agent
        )
        conversation.refresh_from_db()
        return conversation, customer, token


@pytest.fixture
def im_a(org_a):
    return IM(org_a)


@pytest.fixture
def im_b(org_b):
    return IM(org_b)


class Gateway:
    """A push gateway on 127.0.0.1 that fails the first `fail_first` requests with 503."""

    def __init__(self, fail_first: int = 0):
        self.requests: list[dict] = []
        self.fail_first = fail_first
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"headers": dict(self.headers), "body": body})
                failing = len(gateway.requests) <= gateway.fail_first
                self.send_response(503 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/push"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(im_a, monkeypatch):
    # Eager Celery only re-runs a retried task when eager errors do not propagate (as a worker would).
    monkeypatch.setattr(push_send.app.conf, "task_eager_propagates", False)
    gw = Gateway(fail_first=1)
    tenant = im_a.org.tenant
    tenant.push_webhook_url = gw.url
    tenant.save(update_fields=["push_webhook_url"])
    push._tenant_cache.clear()
    yield gw
    gw.close()
    push._tenant_cache.clear()
