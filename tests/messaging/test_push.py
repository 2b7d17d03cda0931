"""Offline push through the tenant's webhook: signed, retried, at most once per message per recipient."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from apps.messaging import presence, push
from apps.messaging.models import PushDelivery
from apps.messaging.services import message_create
from apps.messaging.tasks import push_for_message, push_send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.smoke]


def test_offline_visitor_gets_one_signed_push_after_a_failed_attempt(im_a, gateway):
    conv, customer, _token = im_a.conversation()
    message = message_create(
        conversation_id=conv.pk,
        sender_kind="agent",
        sender_user=im_a.org.agent_sh,
        body="Your parcel left the warehouse",
    )
    # on commit: planned, attempted (503), retried with backoff (eager here), delivered
    assert len(gateway.requests) == 2
    delivery = PushDelivery.objects.get(message=message)
    assert (delivery.recipient_kind, delivery.recipient_id, delivery.status, delivery.attempts) == (
        "visitor",
        customer.pk,
        "delivered",
        2,
    )
    request = gateway.requests[-1]
    secret = im_a.org.tenant.push_webhook_secret
    expected = hmac.new(
        secret.encode(), request["headers"]["X-Kefu-Timestamp"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert request["headers"]["X-Kefu-Signature"] == f"sha256={expected}"
    assert request["headers"]["X-Kefu-Delivery"] == str(delivery.pk)
    payload = json.loads(request["body"])
    assert payload["message"]["body"] == "Your parcel left the warehouse"
    assert payload["recipient"] == {"kind": "visitor", "id": customer.pk}
    # the broker redelivers both tasks: nothing is sent twice
    push_for_message(message.pk)
    push_send(delivery.pk)
    assert len(gateway.requests) == 2
    assert PushDelivery.objects.filter(message=message).count() == 1


def test_connected_recipients_and_staff_notes_are_not_pushed(im_a, gateway):
    conv, customer, _token = im_a.conversation()
    presence.connection_seen(presence.visitor_key(customer.pk), "specific.test!abc")
    try:
        message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=im_a.org.agent_sh, body="online")
    finally:
        presence.connection_gone(presence.visitor_key(customer.pk), "specific.test!abc")
    message_create(
        conversation_id=conv.pk, sender_kind="agent", sender_user=im_a.org.agent_sh, body="note", visibility="staff"
    )
    assert gateway.requests == []
    # the visitor writes while the assigned agent is offline: the agent is pushed
    message = message_create(conversation_id=conv.pk, sender_kind="visitor", body="hello?")
    assert {json.dumps(json.loads(r["body"])["recipient"]) for r in gateway.requests} == {
        json.dumps({"kind": "agent", "id": im_a.org.agent_sh.pk})
    }
    assert list(PushDelivery.objects.values_list("message_id", "recipient_kind", "status")) == [
        (message.pk, "agent", "delivered")
    ]


def test_push_gives_up_after_the_retries_and_marks_failed(im_a, gateway):
    gateway.fail_first = 100
    conv, _customer, _token = im_a.conversation()
    message = message_create(conversation_id=conv.pk, sender_kind="bot", body="are you still there?")
    deliveries = PushDelivery.objects.filter(message=message)  # the visitor and the assigned agent
    assert sorted((d.recipient_kind, d.status, d.attempts) for d in deliveries) == [
        ("agent", "failed", 7),
        ("visitor", "failed", 7),
    ]  # first try + 6 retries each
    assert len(gateway.requests) == 14


def test_super_admin_sees_failed_pushes_and_sends_them_again(im_a, im_b, gateway, client):
    from apps.core.models import AuditEntry

    conv, customer, _token = im_a.conversation()
    gateway.fail_first = 100  # the gateway is down: every attempt fails, the delivery gives up
    message = message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=im_a.org.agent_sh, body="hi")
    delivery = PushDelivery.objects.get(message=message)
    assert delivery.status == "failed" and "503" in delivery.last_error
    org = im_a.org
    client.force_login(org.sup_east)
    assert client.get("/manage/messaging/pushdelivery/").status_code in (403, 404)  # supervisors: no
    client.force_login(org.admin)
    page = client.get("/manage/messaging/pushdelivery/?status=failed")
    assert page.status_code == 200 and f">{delivery.pk}<" in page.content.decode()
    other = im_b.org.admin
    assert push.push_retry(actor=other, delivery_ids=[delivery.pk]) == 0  # another tenant's: untouched
    gateway.fail_first = 0  # the gateway is fixed
    sent_before = len(gateway.requests)
    response = client.post(
        "/manage/messaging/pushdelivery/",
        {"action": "retry_failed", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
    assert len(gateway.requests) == sent_before + 1
    assert AuditEntry.objects.filter(action="push.retry", actor=org.admin).count() == 1
    assert push.push_retry(actor=org.admin, delivery_ids=[delivery.pk]) == 0  # delivered: left alone


def test_a_push_whose_delivered_mark_met_a_database_outage_is_not_posted_again(im_a, gateway, monkeypatch):
    from django.db import OperationalError

    gateway.fail_first = 0
    real_mark, failures = push._mark_delivered, []

    def mark_while_the_primary_restarts(delivery_id):
        if not failures:
            failures.append(delivery_id)
            raise OperationalError(2013, "Lost connection to server during query")
        real_mark(delivery_id)

    monkeypatch.setattr(push, "_mark_delivered", mark_while_the_primary_restarts)
    conv, _customer, _token = im_a.conversation()
    # POSTed, the mark fails, the task is retried (KefuTask: the database was away): marked only
    message = message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=im_a.org.agent_sh, body="hi")
    delivery = PushDelivery.objects.get(message=message)
    assert failures == [delivery.pk]
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert len(gateway.requests) == 1


def test_two_copies_of_a_push_task_never_post_together(im_a, gateway, monkeypatch):
    from django.core.cache import cache

    gateway.fail_first = 0
    conv, _customer, _token = im_a.conversation()
    with monkeypatch.context() as m:
        m.setattr(push, "push_plan", lambda **kwargs: [])  # planned only below
        message = message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=im_a.org.agent_sh, body="x")
    (delivery_id,) = push.push_plan(message_id=message.pk)
    cache.add(push._claim_key(delivery_id), "another worker", push.CLAIM_SECONDS)  # it is POSTing now
    with pytest.raises(push.PushBusy):
        push.push_attempt(delivery_id=delivery_id)
    assert gateway.requests == []
    cache.delete(push._claim_key(delivery_id))  # it finished (or its claim lapsed)
    assert push.push_attempt(delivery_id=delivery_id) is True
    assert push.push_attempt(delivery_id=delivery_id) is True
    assert len(gateway.requests) == 1
