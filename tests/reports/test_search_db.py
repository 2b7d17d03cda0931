"""The database full-text backend (the embedded default): an inverted index of Chinese bigrams
and whole Latin words per conversation, written in the message's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.messaging.services import message_create
from apps.search.models import SearchTerm
from apps.search.selectors import get_backend
from apps.search.terms import query_terms, tokens
from tests.reports.conftest import T0
from tests.reports.test_search import _ids

START, END = T0 - timedelta(days=60), T0 + timedelta(days=1)


def _search(tenant, text, limit=2000):
    return get_backend().search_conversation_ids(tenant_id=tenant.pk, text=text, start=START, end=END, limit=limit)


def test_tokens_are_chinese_bigrams_and_whole_latin_words():
    assert tokens("我的快递到了！Parcel 123456，订单号A12") == [
        "我的", "的快", "快递", "递到", "到了", "parcel", "123456", "订单", "单号", "a12",
    ]  # fmt: skip
    assert tokens("ＲＥＦＵＮＤ") == ["refund"]  # full-width and case folded
    assert tokens("谢") == [] and query_terms("谢") == []


@pytest.mark.smoke
def test_database_search_finds_chinese_substrings_and_english_words(history):
    org = history.org
    a = history.served(at=T0, agent=org.agent_sh)
    history.message(a, at=T0, body="我要申请退款，订单号 12345")
    b = history.served(at=T0 + timedelta(minutes=5), agent=org.agent_sh)
    history.message(b, at=T0, body="Where is my REFUND? Parcel 778899")
    assert get_backend().name == "database"
    assert _search(org.tenant, "退款") == [a.pk]
    assert _search(org.tenant, "申请退") == [a.pk]  # inside a word: no dictionary needed
    assert _search(org.tenant, "款，订") == [a.pk]  # lone characters: bounded substring scan
    assert _search(org.tenant, "请") == [a.pk]
    assert _search(org.tenant, "refund") == [b.pk]
    assert _search(org.tenant, "where refund") == [b.pk]  # every word, anywhere in the conversation
    assert _search(org.tenant, "778899") == [b.pk]
    assert _search(org.tenant, "12345") == [a.pk]
    assert _search(org.tenant, "1234") == []  # whole words, as Elasticsearch matches them
    assert _search(org.tenant, "退款 where") == []
    assert _search(org.tenant, "   ") == []


def test_terms_spread_over_messages_do_not_fake_a_phrase(history):
    org = history.org
    spread = history.served(at=T0, agent=org.agent_sh)
    for body in ("快递员来了", "递到手上", "已经到了"):  # 快递, 递到, 到了 — but never 快递到了
        history.message(spread, at=T0, body=body)
    real = history.served(at=T0 - timedelta(hours=1), agent=org.agent_sh)
    history.message(real, at=T0, body="我的快递到了吗")
    assert _search(org.tenant, "快递到了") == [real.pk]
    assert _search(org.tenant, "递到") == [spread.pk, real.pk]  # newest first


def test_results_are_newest_first_and_stop_at_the_limit_across_time_windows(history, monkeypatch):
    org = history.org
    convs = []
    for days in (0, 2, 9, 30, 50):  # spread across the growing windows (1, 4, 16, 64 days)
        conv = history.served(at=T0 - timedelta(days=days), agent=org.agent_sh)
        history.message(conv, at=T0, body="投诉配送太慢了")
        convs.append(conv.pk)
    assert _search(org.tenant, "配送太慢") == convs  # several terms: windowed
    assert _search(org.tenant, "配送") == convs  # one term: one range scan
    assert _search(org.tenant, "配送太慢", limit=3) == convs[:3]
    assert _search(org.tenant, "配送", limit=2) == convs[:2]
    monkeypatch.setattr("apps.search.db.CONFIRM_CHUNK", 1)  # confirmation stops at the limit too
    assert _search(org.tenant, "配送太慢", limit=2) == convs[:2]
    assert _search(org.tenant, "配送太慢") == convs
    assert (
        get_backend().search_conversation_ids(
            tenant_id=org.tenant.pk, text="配送太慢", start=T0 - timedelta(days=10), end=T0 - timedelta(days=1)
        )
        == convs[1:3]
    )


def test_database_search_never_crosses_tenants(history, history_b):
    org, other = history.org, history_b.org
    mine = history.served(at=T0, agent=org.agent_sh)
    history.message(mine, at=T0, body="发票开错了")
    theirs = history_b.served(at=T0, agent=other.agent_sh)
    history_b.message(theirs, at=T0, body="发票开错了")
    assert _search(org.tenant, "发票") == [mine.pk]
    assert _search(other.tenant, "发票开错") == [theirs.pk]
    assert _search(org.tenant, "票") == [mine.pk]
    assert _ids(org.admin, text="发票") == {mine.pk}


def test_sent_messages_are_searchable_once_committed_and_reindex_rebuilds_the_same_rows(
    history, django_capture_on_commit_callbacks
):
    org = history.org
    conv = history.served(at=T0, agent=org.agent_sh)
    from apps.conversations.models import Conversation

    Conversation.objects.filter(pk=conv.pk).update(status="active")
    with django_capture_on_commit_callbacks(execute=False) as pending:
        message_create(conversation_id=conv.pk, sender_kind="visitor", body="包裹 SF1234 丢了", client_msg_id="m1")
    assert _search(org.tenant, "sf1234") == []  # indexed after the commit, off the send path
    for callback in pending:
        callback()
    message_create(conversation_id=conv.pk, sender_kind="visitor", body="包裹 SF1234 丢了", client_msg_id="m1")
    assert _search(org.tenant, "sf1234") == [conv.pk]
    assert _search(org.tenant, "包裹") == [conv.pk]
    rows = set(SearchTerm.objects.values_list("tenant_id", "term", "created_at", "conversation_id"))
    SearchTerm.objects.all().delete()
    assert _search(org.tenant, "包裹") == []
    call_command("reindex_messages", stdout=open("/dev/null", "w"))
    assert set(SearchTerm.objects.values_list("tenant_id", "term", "created_at", "conversation_id")) == rows
    call_command("reindex_messages", "--tenant", org.tenant.slug, stdout=open("/dev/null", "w"))  # twice: same
    assert set(SearchTerm.objects.values_list("tenant_id", "term", "created_at", "conversation_id")) == rows
    assert _search(org.tenant, "包裹") == [conv.pk]


def test_indexing_a_message_costs_one_insert_and_a_search_one_query(history, django_assert_num_queries):
    org = history.org
    conv = history.served(at=T0, agent=org.agent_sh)
    from apps.messaging.models import Message
    from apps.search.db import index_message

    message = Message.objects.create(tenant=org.tenant, conversation=conv, seq=9, body="退款进度怎么样 refund")
    with django_assert_num_queries(1):
        index_message(conversation=conv, message=message)
    with django_assert_num_queries(1):
        assert _search(org.tenant, "退款") == [conv.pk]
