"""Every event a conversation's life produces goes to its audience and nowhere else: a whole
life (messages, typing, read marks, waiting, a transfer, rating, close) with every publish
recorded at the channel-layer boundary; no event about it reaches the group of anyone outside
the reach written out by hand, nor a tenant-wide group."""

from __future__ import annotations

import re

import pytest

from apps.accounts.models import AgentStatus
from apps.conversations import services as conversation_services
from apps.messaging import publish as publish_module
from apps.messaging import services as messaging_services
from apps.routing import waiting

pytestmark = [pytest.mark.django_db(transaction=True)]


def _conversation_of(event: dict) -> int | None:
    return event.get("conversation_id") or (event.get("conversation") or {}).get("id")


def test_a_conversations_events_reach_no_group_outside_its_audience(world, monkeypatch):
    sent: list[tuple[list[str], dict]] = []
    real = publish_module._send_batch

    def record(batch, **kw):
        sent.extend(batch)
        return real(batch, **kw)

    monkeypatch.setattr(publish_module, "_send_batch", record)
    conv = world.served
    receiver = world._agent(world.a.sh, "receiver", status=AgentStatus.BUSY)

    messaging_services.message_create(conversation_id=conv.pk, sender_kind="visitor", body="在吗", client_msg_id="v1")
    messaging_services.message_create(
        conversation_id=conv.pk, sender_kind="agent", sender_user=world.assignee, body="在的", client_msg_id="a1"
    )
    messaging_services.typing_notify(conversation=conv, sender_kind="visitor", sender_name="", is_typing=True)
    messaging_services.read_mark(conversation=conv, seq=1, reader_kind="agent", user=world.assignee)
    waiting.conversation_wait(conversation_id=conv.pk, actor=world.assignee)
    waiting.conversation_resume(conversation_id=conv.pk, actor=world.assignee)
    transfer = conversation_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=world.assignee, to_agent_id=receiver.pk
    )
    conversation_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=receiver)
    conversation_services.conversation_invite_rating(conversation_id=conv.pk, actor=receiver)
    conversation_services.conversation_close(conversation_id=conv.pk, actor=receiver)
    conversation_services.rating_submit(conversation_id=conv.pk, customer=conv.customer, score=5)

    tenant = world.a.tenant.pk
    # Who may be told: the reach (assignee, supervisor of the subtree, super admin), the agent it
    # was transferred to, and (the transfer's own news) the agent who gave it away.
    allowed_users = {world.assignee.pk, world.a.sup_east.pk, world.a.admin.pk, receiver.pk}
    allowed_groups = {f"t{tenant}.agent.{u}" for u in allowed_users} | {
        f"t{tenant}.conv.{conv.pk}",
        f"t{tenant}.customer.{conv.customer_id}",
    }
    about = [(groups, e) for groups, e in sent if _conversation_of(e) == conv.pk]
    types = {e["type"] for _g, e in about}
    assert {
        "message.created",
        "typing",
        "read",
        "conversation.updated",
        "conversation.transfer_requested",
        "conversation.transfer_resolved",
        "conversation.assigned",
        "conversation.rating_requested",
        "conversation.closed",
        "conversation.rated",
    } <= types, types
    leaks = [(g, e["type"]) for groups, e in about for g in groups if g not in allowed_groups]
    assert not leaks
    # The out-of-reach people, by name: never a group of theirs.
    for name in ("colleague", "agent_south", "sup_south", "other_admin", "disabled_sup"):
        user = world.actors[name]
        assert not [e for groups, e in about if f"t{user.tenant_id}.agent.{user.pk}" in groups], name
    # Nothing about any conversation goes to a tenant-wide group.
    staff = re.compile(rf"^t{tenant}\.staff$")
    assert not [e for groups, e in sent if _conversation_of(e) and any(staff.match(g) for g in groups)]
    # And each conversation event reaches a given group at most once.
    for groups, e in about:
        assert len(groups) == len(set(groups)), (e["type"], groups)
