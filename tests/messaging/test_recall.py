"""Recalling a message (撤回): only its sender, within the company's window; everyone then sees it
recalled (live, on resume, over REST); the recall is a message with its own seq; supervisors
read the original, the audit log has it; other tenants' and other agents' ids are 404."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.utils import timezone

from apps.core.models import AuditEntry
from apps.messaging import recall
from apps.messaging.models import Message, MessageRecall, RecallSettings
from apps.messaging.services import message_create
from tests.messaging.wsutil import agent_ws, drain, recv_until, send, subscribe, visitor_ws

pytestmark = [pytest.mark.django_db(transaction=True)]

S = dt.timedelta(seconds=1)


def _agent_message(conv, agent, body="您的运单号是 SF123"):
    return message_create(
        conversation_id=conv.pk, sender_kind="agent", sender_user=agent, body=body, client_msg_id=body
    )


def test_the_sender_recalls_within_the_window_and_the_original_is_kept_for_supervisors(im_a, org_a, api_client):
    conv, customer, _token = im_a.conversation()
    agent = org_a.agent_sh
    t0 = timezone.now()
    with time_machine.travel(t0, tick=False):
        msg = _agent_message(conv, agent)
        visitor = message_create(conversation_id=conv.pk, sender_kind="visitor", body="好的", client_msg_id="v1")
    api_client.force_authenticate(agent)
    url = f"/api/v1/im/conversations/{conv.pk}/messages/{msg.pk}/recall/"
    # Not the sender (a visitor's message, a colleague's), or too late: refused, nothing changes.
    assert api_client.post(f"/api/v1/im/conversations/{conv.pk}/messages/{visitor.pk}/recall/").status_code == 403
    with time_machine.travel(t0 + 121 * S, tick=False):
        late = api_client.post(url)
    assert late.status_code == 409 and late.json()["error"]["code"] == "recall_too_late"
    assert Message.objects.get(pk=msg.pk).body == "您的运单号是 SF123"
    with time_machine.travel(t0 + 119 * S, tick=False):
        ok = api_client.post(url)
    assert ok.status_code == 200, ok.content
    data = ok.json()
    assert data["message"]["body"] == "" and data["message"]["recalled_at"] and data["platform_recalled"] is True
    notice = data["notice"]
    assert notice["seq"] == msg.seq + 2 and notice["content_type"] == "event"
    assert notice["payload"] == {"code": "message_recalled", "message_id": msg.pk, "seq": msg.seq}
    stored = Message.objects.get(pk=msg.pk)
    assert stored.body == "" and stored.payload == {} and stored.recalled_at is not None
    row = MessageRecall.objects.get(message=stored)
    assert row.body == "您的运单号是 SF123" and row.recalled_by == agent and row.notice_seq == notice["seq"]
    assert AuditEntry.objects.filter(action="message.recall", actor=agent).count() == 1
    # Again: the same answer, nothing new written.
    with time_machine.travel(t0 + 130 * S, tick=False):
        again = api_client.post(url)
    assert again.status_code == 200 and again.json()["notice"]["seq"] == notice["seq"]
    assert Message.objects.filter(conversation=conv).count() == msg.seq + 2
    # History for the visitor and staff: recalled in place, the notice after it.
    history = api_client.get(f"/api/v1/im/conversations/{conv.pk}/messages/?after_seq={msg.seq - 1}").json()
    by_seq = {m["seq"]: m for m in history["messages"]}
    assert by_seq[msg.seq]["body"] == "" and by_seq[msg.seq]["recalled_at"]
    # The agent may not read originals; the branch's supervisor may; another branch's may not.
    assert api_client.get(f"/api/v1/im/conversations/{conv.pk}/recalls/").status_code == 403
    api_client.force_authenticate(org_a.sup_east)
    originals = api_client.get(f"/api/v1/im/conversations/{conv.pk}/recalls/").json()["results"]
    assert [(r["seq"], r["body"], r["recalled_by"]) for r in originals] == [(msg.seq, "您的运单号是 SF123", agent.name)]
    api_client.force_authenticate(org_a.sup_south)
    assert api_client.get(f"/api/v1/im/conversations/{conv.pk}/recalls/").status_code == 404
    # The transcript shows it recalled, not the text.
    from django.test import Client

    page = Client()
    page.force_login(org_a.sup_east)
    html = page.get(f"/workbench/history/{conv.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "消息已撤回" in html and "SF123" not in html


def test_other_tenants_and_agents_get_404_and_the_window_is_the_tenants(im_a, im_b, org_a, org_b, api_client):
    conv, _c, _t = im_a.conversation()
    msg = _agent_message(conv, org_a.agent_sh)
    for user in (org_b.agent_sh, org_b.admin, org_a.agent_south):
        api_client.force_authenticate(user)
        r = api_client.post(f"/api/v1/im/conversations/{conv.pk}/messages/{msg.pk}/recall/")
        assert r.status_code == 404, (user.username, r.content)
    # A message id of another conversation through mine: not found either.
    other, _c2, _t2 = im_a.conversation()
    api_client.force_authenticate(org_a.agent_sh)
    assert api_client.post(f"/api/v1/im/conversations/{other.pk}/messages/{msg.pk}/recall/").status_code == 404
    # The company turns recall off.
    recall.recall_settings_save(actor=org_a.admin, tenant_id=org_a.tenant.pk, window_seconds=0)
    off = api_client.post(f"/api/v1/im/conversations/{conv.pk}/messages/{msg.pk}/recall/")
    assert off.status_code == 409 and off.json()["error"]["code"] == "recall_too_late"
    assert RecallSettings.objects.get(tenant=org_a.tenant).window_seconds == 0
    assert recall.recall_window_seconds(tenant_id=org_b.tenant.pk) == 120  # another company keeps the default
    assert not MessageRecall.objects.exists()


async def test_live_clients_see_the_recall_and_a_reconnecting_visitor_catches_up_by_seq(im_a, org_a):
    conv, customer, token = await sync_to_async(im_a.conversation)()
    agent = org_a.agent_sh
    msg = await sync_to_async(_agent_message)(conv, agent)
    staff = await agent_ws(agent)
    live_visitor = await visitor_ws(token)
    await subscribe(staff, conv.pk, msg.seq)
    await subscribe(live_visitor, conv.pk, msg.seq)
    away_last_seq = msg.seq  # a visitor page that saw the message, then dropped

    await send(staff, type="recall", ref="r1", conversation_id=conv.pk, message_id=msg.pk)
    reply, _ = await recv_until(staff, "recalled")
    assert reply["ref"] == "r1" and reply["seq"] == msg.seq and reply["notice_seq"] == msg.seq + 1
    notice, _ = await recv_until(live_visitor, "message.created")
    assert notice["message"]["seq"] == msg.seq + 1
    assert notice["message"]["payload"] == {"code": "message_recalled", "message_id": msg.pk, "seq": msg.seq}
    # Recalling a visitor's message over the socket: refused with the code.
    theirs = await sync_to_async(message_create)(conversation_id=conv.pk, sender_kind="visitor", body="嗯")
    await send(staff, type="recall", ref="r2", conversation_id=conv.pk, message_id=theirs.pk)
    err, _ = await recv_until(staff, "error")
    assert err["code"] == "recall_not_sender" and err["ref"] == "r2"

    back = await visitor_ws(token)
    replayed = await subscribe(back, conv.pk, away_last_seq)
    assert [m["message"]["seq"] for m in replayed] == [msg.seq + 1, msg.seq + 2]
    assert replayed[0]["message"]["payload"]["code"] == "message_recalled"
    # A visitor that starts from scratch sees the message recalled in its place.
    fresh = await visitor_ws(token)
    full = await subscribe(fresh, conv.pk, 0)
    recalled = next(m["message"] for m in full if m["message"]["seq"] == msg.seq)
    assert recalled["body"] == "" and recalled["recalled_at"]
    for comm in (staff, live_visitor, back, fresh):
        await drain(comm, 0.05)
        await comm.disconnect()


def test_the_recalled_text_is_gone_from_the_preview_and_the_erasure_scrubs_the_original(im_a, org_a):
    from apps.conversations.models import Conversation
    from apps.privacy.scrub import scrub_conversations

    conv, _c, _t = im_a.conversation()
    msg = _agent_message(conv, org_a.agent_sh, body="密码是 123456")
    assert Conversation.objects.get(pk=conv.pk).last_message_preview == "密码是 123456"
    recall.message_recall(actor=org_a.agent_sh, conversation=conv, message_id=msg.pk)
    assert "123456" not in Conversation.objects.get(pk=conv.pk).last_message_preview
    scrub_conversations(tenant_id=conv.tenant_id, conversation_ids=[conv.pk], reason="erasure", delete_messages=False)
    assert MessageRecall.objects.get(message_id=msg.pk).body == ""
