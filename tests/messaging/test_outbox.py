"""The after-commit work of a message is durable: a batch whose hand-off never ran (the process
killed after COMMIT, a commit whose outcome the sender never learned) gets its work done by the
outbox sweeper, once, however often and however many sweepers run (apps/messaging/outbox.py)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import time_machine

from apps.messaging import hooks, outbox
from apps.messaging.models import MessageOutbox, PushDelivery
from apps.messaging.services import SendRequest, message_create, message_send
from apps.search.models import SearchTerm

pytestmark = [pytest.mark.django_db(transaction=True)]

T0 = datetime.fromisoformat("2026-03-09T09:00:00+00:00")


@pytest.fixture
def hand_off_lost(monkeypatch):
    """The sending process dies between its COMMIT and its on_commit callbacks."""
    monkeypatch.setattr(outbox, "outbox_hand_off", lambda **kwargs: None)


def _agent_says(im_a, conv, body, **kw):
    return message_create(conversation_id=conv.pk, sender_kind="agent", sender_user=im_a.org.agent_sh, body=body, **kw)


def test_a_batch_whose_hand_off_was_lost_is_pushed_and_indexed_once_by_the_sweeper(im_a, gateway, hand_off_lost):
    gateway.fail_first = 0
    conv, customer, _token = im_a.conversation()
    with time_machine.travel(T0, tick=False) as clock:
        message = _agent_says(im_a, conv, "您的包裹已经发出")
        assert gateway.requests == [] and not SearchTerm.objects.filter(conversation_id=conv.pk).exists()
        assert list(MessageOutbox.objects.values_list("message_ids", flat=True)) == [[message.pk]]
        clock.shift(timedelta(seconds=5))
        assert outbox.outbox_sweep() == 0  # within the grace the sender may still be handing it off
        assert gateway.requests == []
        clock.shift(timedelta(seconds=6))
        assert outbox.outbox_sweep() == 1
        assert outbox.outbox_sweep() == 0
    assert len(gateway.requests) == 1
    delivery = PushDelivery.objects.get(message=message)
    assert (delivery.recipient_kind, delivery.recipient_id, delivery.status) == ("visitor", customer.pk, "delivered")
    assert SearchTerm.objects.filter(conversation_id=conv.pk).exists()
    assert not MessageOutbox.objects.exists()


def test_a_batch_handed_off_by_its_sender_is_only_forgotten_by_the_sweeper(im_a, monkeypatch):
    ran: list[list[int]] = []
    monkeypatch.setattr(hooks, "_committed", [lambda messages: ran.append([m.pk for m in messages])])
    conv, _customer, _token = im_a.conversation()
    with time_machine.travel(T0, tick=False) as clock:
        message = _agent_says(im_a, conv, "hello")
        clock.shift(timedelta(seconds=11))
        assert outbox.outbox_sweep() == 0
    assert ran == [[message.pk]]
    assert not MessageOutbox.objects.exists()


def test_a_listener_that_failed_leaves_the_batch_to_the_sweeper(im_a, monkeypatch):
    ran: list[list[int]] = []

    def flaky(messages):
        ran.append([m.pk for m in messages])
        if len(ran) == 1:
            raise ConnectionError("broker away")

    monkeypatch.setattr(hooks, "_committed", [flaky])
    conv, _customer, _token = im_a.conversation()
    with time_machine.travel(T0, tick=False) as clock:
        message = _agent_says(im_a, conv, "hello")  # the send itself succeeds
        clock.shift(timedelta(seconds=11))
        assert outbox.outbox_sweep() == 1
        assert outbox.outbox_sweep() == 0
    assert ran == [[message.pk], [message.pk]]
    assert not MessageOutbox.objects.exists()


def test_a_resend_of_a_batch_whose_hand_off_was_lost_is_pushed_once(im_a, gateway, monkeypatch):
    gateway.fail_first = 0
    conv, _customer, _token = im_a.conversation()
    with time_machine.travel(T0, tick=False) as clock:
        with monkeypatch.context() as m:
            m.setattr(outbox, "outbox_hand_off", lambda **kwargs: None)
            message = _agent_says(im_a, conv, "到了吗", client_msg_id="c-1")
        # the sender saw an error and resends by client id: the original comes back
        again = message_send(
            request=SendRequest(
                conversation_id=conv.pk,
                sender_kind="agent",
                sender_user=im_a.org.agent_sh,
                body="到了吗",
                client_msg_id="c-1",
            )
        )
        assert again.message.pk == message.pk and again.created is False
        clock.shift(timedelta(seconds=11))
        assert outbox.outbox_sweep() == 1
        # and the lost callbacks run after all (a slow process, not a dead one): nothing more
        outbox.outbox_hand_off(messages=[message], token="late")
    assert len(gateway.requests) == 1
    assert PushDelivery.objects.filter(message=message, status="delivered").count() == 1


@pytest.mark.mysql
def test_sweepers_running_together_do_each_batchs_work_once(im_a, hand_off_lost, monkeypatch):
    from django.db import connection

    convs = [im_a.conversation()[0] for _ in range(6)]
    with time_machine.travel(T0, tick=False):
        written = sorted(_agent_says(im_a, conv, f"m{i}").pk for i, conv in enumerate(convs))
    ran: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(3)

    def slow_listener(messages):
        with lock:
            ran.extend(m.pk for m in messages)
        threading.Event().wait(0.2)  # hold the rows while the other sweepers look at them

    monkeypatch.setattr(hooks, "_committed", [slow_listener])
    counts: list[int] = []

    def sweep():
        try:
            start.wait()
            counts.append(outbox.outbox_sweep(now=T0 + timedelta(seconds=11)))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ran) == written
    assert sum(counts) == len(convs)
    assert outbox.outbox_sweep(now=T0 + timedelta(seconds=100)) == 0
    assert not MessageOutbox.objects.exists()


def test_a_sweep_goes_on_while_pages_come_back_full(im_a, hand_off_lost, monkeypatch):
    ran: list[int] = []
    monkeypatch.setattr(hooks, "_committed", [lambda messages: ran.extend(m.pk for m in messages)])
    conv, _customer, _token = im_a.conversation()
    with time_machine.travel(T0, tick=False):
        written = [_agent_says(im_a, conv, f"m{i}").pk for i in range(5)]
    assert outbox.outbox_sweep(now=T0 + timedelta(seconds=11), limit=2) == 5
    assert ran == written and not MessageOutbox.objects.exists()


def test_a_sweeper_skips_a_row_another_sweeper_holds_until_its_lease_lapses(im_a, hand_off_lost, monkeypatch):
    ran: list[int] = []
    monkeypatch.setattr(hooks, "_committed", [lambda messages: ran.extend(m.pk for m in messages)])
    conv, _customer, _token = im_a.conversation()
    with time_machine.travel(T0, tick=False):
        message = _agent_says(im_a, conv, "hello")
    row = MessageOutbox.objects.get()
    later = T0 + timedelta(seconds=11)
    assert outbox._claim(row.pk, later)  # another sweeper took it and died
    assert outbox.outbox_sweep(now=later + timedelta(seconds=30)) == 0
    assert ran == []
    assert outbox.outbox_sweep(now=later + outbox.LEASE + timedelta(seconds=1)) == 1
    assert ran == [message.pk]


def test_a_send_adds_one_statement_to_the_batch_and_none_after_the_commit(im_a, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(hooks, "_written", [])
    monkeypatch.setattr(hooks, "_committed", [])
    conv, _customer, _token = im_a.conversation()
    with CaptureQueriesContext(connection) as captured:
        _agent_says(im_a, conv, "hello")
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    statements = [s for s in statements if s not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")]
    # lock, INSERT message, UPDATE conversation, INSERT outbox row; the hand-off after the commit
    # marks the row in the cache, not the database
    assert statements == ["SELECT", "INSERT", "UPDATE", "INSERT"]
    assert sum("MESSAGING_MESSAGEOUTBOX" in q["sql"].upper() for q in captured.captured_queries) == 1
