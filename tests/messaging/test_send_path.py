"""The send hot path: one conversation row lock, the idempotency probe, one insert, one update,
the outbox row of its after-commit work (apps/messaging/outbox.py)."""

from __future__ import annotations

import pytest

from apps.messaging import hooks, push, receivers
from apps.messaging.models import Message
from apps.messaging.services import message_create, message_send

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def only_messaging_hooks(monkeypatch):
    # Other layers (dispatch, bot) register their own hooks and own their query budgets.
    monkeypatch.setattr(hooks, "_written", [])
    monkeypatch.setattr(hooks, "_committed", [receivers._plan_offline_push])
    push._tenant_cache.clear()


def test_send_costs_lock_probe_insert_update(im_a, django_assert_num_queries, only_messaging_hooks):
    conv, _customer, _token = im_a.conversation()
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="warm the tenant push cache", client_msg_id="w")
    # SAVEPOINT, SELECT ... FOR UPDATE, probe client_msg_id, INSERT, UPDATE conversation,
    # INSERT outbox row, RELEASE
    with django_assert_num_queries(7) as captured:
        message = message_create(conversation_id=conv.pk, sender_kind="visitor", body="hello", client_msg_id="c1")
    sql = [q["sql"].upper() for q in captured.captured_queries]
    from django.db import connection

    assert sum("FOR UPDATE" in q for q in sql) == (1 if connection.features.has_select_for_update else 0)
    assert sum(q.startswith("INSERT") for q in sql) == 2
    assert sum(q.startswith("INSERT") and "MESSAGING_MESSAGEOUTBOX" in q for q in sql) == 1
    assert sum(q.startswith("UPDATE") for q in sql) == 1
    assert message.seq == 2


def test_resend_costs_lock_and_probe_only(im_a, django_assert_num_queries, only_messaging_hooks):
    conv, _customer, _token = im_a.conversation()
    first = message_send(request=_request(conv, 1))
    assert first.created is True
    with django_assert_num_queries(4):  # SAVEPOINT, lock, probe, RELEASE
        again = message_send(request=_request(conv, 1))
    assert again.message.pk == first.message.pk
    assert again.created is False and Message.objects.filter(conversation=conv).count() == 1


def test_send_without_client_id_skips_the_probe(im_a, django_assert_num_queries, only_messaging_hooks):
    conv, _customer, _token = im_a.conversation()
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="warm")
    with django_assert_num_queries(6):  # no probe; lock, INSERT, UPDATE, outbox row
        message_create(conversation_id=conv.pk, sender_kind="bot", body="hi")


def _request(conversation, n, **kw):
    from apps.messaging.services import SendRequest

    return SendRequest(
        conversation_id=conversation.pk, sender_kind="visitor", body=f"m{n}", client_msg_id=f"c{n}", **kw
    )


def test_a_batch_over_many_conversations_costs_the_statements_of_one_message(
    im_a, django_assert_num_queries, only_messaging_hooks
):
    from apps.conversations.models import Conversation
    from apps.messaging.services import messages_create

    convs = [im_a.conversation()[0] for _ in range(5)]
    message_create(conversation_id=convs[0].pk, sender_kind="visitor", body="warm the tenant push cache")
    # interleaved: conversation k gets requests k, k+5, k+10 -> seqs in request order
    requests = [_request(convs[i % 5], i) for i in range(15)]
    # SAVEPOINT, SELECT ... FOR UPDATE (all five), probe, one INSERT, one UPDATE, one outbox row,
    # RELEASE
    with django_assert_num_queries(7):
        results = messages_create(requests=requests)
    assert all(r.created for r in results)
    for k, conv in enumerate(convs):
        mine = [r.message for r in results if r.message.conversation_id == conv.pk]
        first = 2 if k == 0 else 1
        assert [(m.seq, m.body) for m in mine] == [(first + j, f"m{k + 5 * j}") for j in range(3)]
        conv = Conversation.objects.get(pk=conv.pk)
        assert conv.last_seq == first + 2 and conv.last_message_preview == f"m{k + 10}"
        assert list(Message.objects.filter(conversation=conv).values_list("seq", flat=True)) == list(
            range(1, first + 3)
        )


def test_a_batch_refuses_only_its_bad_requests(im_a, only_messaging_hooks):
    from apps.conversations.models import Conversation
    from apps.core.errors import ApplicationError
    from apps.messaging.services import SendRequest, messages_create

    open_conv, closed = im_a.conversation()[0], im_a.conversation()[0]
    Conversation.objects.filter(pk=closed.pk).update(status="closed")
    results = messages_create(
        requests=[
            _request(open_conv, 1),
            _request(closed, 2),
            SendRequest(conversation_id=open_conv.pk, sender_kind="visitor", body="   "),
            SendRequest(conversation_id=closed.pk + open_conv.pk + 1000, sender_kind="visitor", body="nobody"),
            _request(open_conv, 3),
        ]
    )
    codes = [r.code if isinstance(r, ApplicationError) else r.message.seq for r in results]
    assert codes == [1, "conversation_closed", "empty_message", "not_found", 2]
    assert Message.objects.filter(conversation=closed).count() == 0


def test_a_client_msg_id_repeated_in_a_batch_or_across_batches_is_written_once(im_a, only_messaging_hooks):
    from apps.messaging.services import messages_create

    conv = im_a.conversation()[0]
    first = messages_create(requests=[_request(conv, 1), _request(conv, 1), _request(conv, 2)])
    assert [(r.message.seq, r.created) for r in first] == [(1, True), (1, False), (2, True)]
    assert first[0].message.pk == first[1].message.pk
    again = messages_create(requests=[_request(conv, 2), _request(conv, 3)])
    assert [(r.message.pk, r.message.seq, r.created) for r in again] == [
        (first[2].message.pk, 2, False),
        (again[1].message.pk, 3, True),
    ]
    assert Message.objects.filter(conversation=conv).count() == 3


def test_listeners_run_after_the_commit_once_per_batch(im_a, monkeypatch, django_capture_on_commit_callbacks):
    from apps.messaging.services import messages_create

    written, committed = [], []
    monkeypatch.setattr(hooks, "_written", [lambda messages: written.append([m.seq for m in messages])])
    monkeypatch.setattr(hooks, "_committed", [lambda messages: committed.append([m.body for m in messages])])
    conv_a, conv_b = im_a.conversation()[0], im_a.conversation()[0]
    with django_capture_on_commit_callbacks(execute=False) as pending:
        messages_create(requests=[_request(conv_a, 1), _request(conv_b, 2), _request(conv_a, 3)])
    assert written == [[1, 1, 2]]  # inside the transaction: outbox rows only
    assert committed == []  # nothing else until the commit
    for callback in pending:
        callback()
    assert committed == [["m1", "m2", "m3"]]
