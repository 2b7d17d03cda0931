"""A hand-built history: conversations, events, messages and ratings at chosen times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from apps.accounts.models import AgentStatusLog
from apps.channels.models import Channel
from apps.conversations.models import Conversation, ConversationEvent, ConversationTag, Rating
from apps.customers.models import Customer
from apps.messaging.models import Message
from apps.search.db import index_message

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
_n = itertools.count(1)


class History:
    def __init__(self, org):
        self.org = org
        self.tenant = org.tenant
        self.channels = {}

    def channel(self, name="web", branch=None):
        if name not in self.channels:
            self.channels[name] = Channel.objects.create(tenant=self.tenant, name=name, branch=branch or self.org.hq)
        return self.channels[name]

    def customer(self, name="visitor"):
        return Customer.objects.create(tenant=self.tenant, display_name=name)

    def conversation(self, *, at, branch=None, channel="web", customer=None, tags=()):
        conv = Conversation.objects.create(
            tenant=self.tenant,
            channel=self.channel(channel),
            customer=customer or self.customer(f"v{next(_n)}"),
            branch=branch or self.org.sh,
            status="queued",
        )
        Conversation.objects.filter(pk=conv.pk).update(created_at=at)
        for name in tags:
            tag, _ = ConversationTag.objects.get_or_create(tenant=self.tenant, name=name)
            conv.tags.add(tag)
        conv.refresh_from_db()
        conv.seq = 0
        return conv

    def event(self, conv, *, at, kind, frm="", to="", agent=None, branch=None):
        ev = ConversationEvent.objects.create(
            tenant=self.tenant,
            conversation=conv,
            kind=kind,
            from_status=frm,
            to_status=to,
            agent=agent,
            branch=branch or conv.branch,
        )
        ConversationEvent.objects.filter(pk=ev.pk).update(created_at=at)
        updates = {"status": to} if to else {}
        if to == "active" and agent is not None:
            updates["assignee"] = agent
        if to == "closed":
            updates["closed_at"] = at
        if updates:
            Conversation.objects.filter(pk=conv.pk).update(**updates)
        return ev

    def message(self, conv, *, at, sender="visitor", user=None, body="hello", visibility="all"):
        conv.seq = Message.objects.filter(conversation=conv).count() + 1
        m = Message.objects.create(
            tenant=self.tenant,
            conversation=conv,
            seq=conv.seq,
            sender_kind=sender,
            sender_user=user,
            body=body,
            visibility=visibility,
        )
        Message.objects.filter(pk=m.pk).update(created_at=at)
        Conversation.objects.filter(pk=conv.pk).update(last_message_at=at, last_seq=conv.seq)
        index_message(conversation=conv, message=m)  # what the send path's hook does
        return m

    def rating(self, conv, *, at, score, agent=None):
        r = Rating.objects.create(tenant=self.tenant, conversation=conv, score=score, agent=agent)
        Rating.objects.filter(pk=r.pk).update(created_at=at)
        return r

    def status(self, agent, *, at, status, previous=""):
        return AgentStatusLog.objects.create(
            tenant=self.tenant,
            agent=agent,
            branch_id_at_time=agent.branch_id,
            previous=previous,
            status=status,
            created_at=at,
        )

    def served(self, *, at, agent, branch=None, channel="web", frt=60, aht=600, score=None, tags=(), visitor_msgs=1):
        """A conversation queued at `at`, accepted 30 s later, answered after `frt`, closed after `aht`."""
        conv = self.conversation(at=at, branch=branch, channel=channel, tags=tags)
        self.event(conv, at=at, kind="created", to="queued")
        for i in range(visitor_msgs):
            self.message(conv, at=at + timedelta(seconds=1 + i))
        accept = at + timedelta(seconds=30)
        self.event(conv, at=accept, kind="assigned", frm="queued", to="active", agent=agent)
        self.message(conv, at=accept + timedelta(seconds=frt), sender="agent", user=agent, body="hi, how can I help")
        self.event(conv, at=accept + timedelta(seconds=aht), kind="closed", frm="active", to="closed")
        if score is not None:
            self.rating(conv, at=accept + timedelta(seconds=aht + 5), score=score, agent=agent)
        return conv


@pytest.fixture
def history(org_a):
    return History(org_a)


@pytest.fixture
def history_b(org_b):
    return History(org_b)
