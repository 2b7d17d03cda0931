"""The send hot path: one conversation row lock, the idempotency probe, one insert, one update."""

from __future__ import annotations

import pytest

from apps.messaging import hooks, push, receivers
from apps.messaging.models import Message
from apps.messaging.services import message_create

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


@pytest.fixture
def only_messaging_hooks(monkeypatch):
    # Other layers (dispatch, bot) register their own hooks and own their query budgets.
    monkeypatch.setattr(hooks, "_message_created", [receivers._plan_offline_push])
    push._tenant_cache.clear()


def test_send_costs_lock_probe_insert_update(im_a, django_assert_num_queries, only_messaging_hooks):
    conv, _customer, _token = im_a.conversation()
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="warm the tenant push cache", client_msg_id="w")
    # SAVEPOINT, SELECT ... FOR UPDATE, probe client_msg_id, INSERT, UPDATE conversation, RELEASE
    with django_assert_num_queries(6) as captured:
        message = message_create(conversation_id=conv.pk, sender_kind="visitor", body="hello", client_msg_id="c1")
    sql = [q["sql"].upper() for q in captured.captured_queries]
    from django.db import connection

    assert sum("FOR UPDATE" in q for q in sql) == (1 if connection.features.has_select_for_update else 0)
    assert sum(q.startswith("INSERT") for q in sql) == 1
    assert sum(q.startswith("UPDATE") for q in sql) == 1
    assert message.seq == 2


def test_resend_costs_lock_and_probe_only(im_a, django_assert_num_queries, only_messaging_hooks):
    conv, _customer, _token = im_a.conversation()
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="hello", client_msg_id="c1")
    with django_assert_num_queries(4):  # SAVEPOINT, lock, probe, RELEASE
        again = message_create(conversation_id=conv.pk, sender_kind="visitor", body="hello", client_msg_id="c1")
    assert again.created_now is False and Message.objects.filter(conversation=conv).count() == 1


def test_send_without_client_id_skips_the_probe(im_a, django_assert_num_queries, only_messaging_hooks):
    conv, _customer, _token = im_a.conversation()
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="warm")
    with django_assert_num_queries(5):
        message_create(conversation_id=conv.pk, sender_kind="bot", body="hi")
