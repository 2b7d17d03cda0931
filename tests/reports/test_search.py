"""History filters and full-text search: database backend and Elasticsearch (against a local fake)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.core.errors import ApplicationError, NotFound
from apps.messaging.services import message_create
from apps.reports.history import history_filter_parse, history_queryset
from apps.search.selectors import get_backend
from tests.reports.conftest import T0
from tests.reports.fake_es import FakeElasticsearch

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def _ids(actor, **filters):
    filters.setdefault("date_from", "2026-03-01")
    filters.setdefault("date_to", "2026-03-03")
    return set(history_queryset(actor=actor, f=history_filter_parse(filters), tz=SH).values_list("pk", flat=True))


@pytest.fixture
def convs(history):
    org = history.org
    a = history.served(at=T0, agent=org.agent_sh, score=1, tags=("refund",))
    history.message(a, at=T0 + timedelta(minutes=2), body="我要申请退款，订单号 12345")
    b = history.served(at=T0 + timedelta(minutes=5), agent=org.agent_pd, branch=org.pd, channel="wechat", score=5)
    history.message(b, at=T0 + timedelta(minutes=6), body="Where is my REFUND?")
    c = history.served(at=T0 + timedelta(minutes=9), agent=org.agent_south, branch=org.south)
    history.message(c, at=T0 + timedelta(minutes=10), body="物流查询")
    from apps.customers.models import Customer

    Customer.objects.filter(pk=c.customer_id).update(display_name="张三")
    return a, b, c


@pytest.mark.smoke
def test_history_filters_by_every_field(history, convs):
    org = history.org
    a, b, c = convs
    admin = org.admin
    assert _ids(admin) == {a.pk, b.pk, c.pk}
    assert _ids(admin, text="退款") == {a.pk}
    assert _ids(admin, text="refund") == {b.pk}  # case-insensitive
    assert _ids(admin, text="物流") == {c.pk}
    assert _ids(admin, customer="张") == {c.pk}
    assert _ids(admin, channel=history.channel("wechat").pk) == {b.pk}
    assert _ids(admin, agent=org.agent_pd.pk) == {b.pk}
    assert _ids(admin, branch=org.east.pk) == {a.pk, b.pk}
    assert _ids(admin, tag=a.tags.first().pk) == {a.pk}
    assert _ids(admin, satisfaction="dissatisfied") == {a.pk}
    assert _ids(admin, satisfaction="5") == {b.pk}
    assert _ids(admin, satisfaction="unrated") == {c.pk}
    assert _ids(admin, date_from="2026-03-03") == set()


@pytest.mark.smoke
def test_history_is_scoped_to_subtree_and_tenant(history, convs, history_b):
    org = history.org
    a, b, c = convs
    other = history_b.served(at=T0, agent=history_b.org.agent_sh)
    history_b.message(other, at=T0 + timedelta(minutes=1), body="退款")
    assert _ids(org.sup_east) == {a.pk, b.pk}
    assert _ids(org.sup_south, text="退款") == set()
    assert _ids(org.agent_pd) == {b.pk}  # an agent's own history
    assert _ids(history_b.org.admin, text="退款") == {other.pk}
    assert other.pk not in _ids(org.admin, text="退款")
    with pytest.raises(NotFound):
        _ids(org.sup_east, branch=org.south.pk)
    with pytest.raises(NotFound):
        _ids(org.admin, branch=history_b.org.sh.pk)


@pytest.mark.smoke
@pytest.mark.parametrize(
    "bad",
    [
        {"date_from": "yesterday"},
        {"channel": "x"},
        {"satisfaction": "great"},
        {"text": "x" * 101},
        {"date_from": "2026-03-05", "date_to": "2026-03-01"},
    ],
)
def test_bad_history_filters_are_clear_400s(history, bad):
    with pytest.raises(ApplicationError) as exc:
        _ids(history.org.admin, **bad)
    assert exc.value.status_code == 400


@pytest.fixture
def fake_es(settings):
    server = FakeElasticsearch().start()
    settings.ELASTICSEARCH_URL = server.url
    yield server
    server.stop()


def test_elasticsearch_backend_reindexes_searches_and_always_filters_by_tenant(history, convs, history_b, fake_es):
    org = history.org
    a, b, c = convs
    other = history_b.served(at=T0, agent=history_b.org.agent_sh)
    history_b.message(other, at=T0 + timedelta(minutes=1), body="我也要退款")
    assert get_backend().name == "elasticsearch"
    call_command("reindex_messages")
    index = next(iter(fake_es.indices.values()))
    body_mapping = index["mappings"]["properties"]["body"]
    assert body_mapping["analyzer"] == "smartcn" and body_mapping["fields"]["cjk"]["analyzer"] == "cjk"
    assert _ids(org.admin, text="退款") == {a.pk}
    assert _ids(history_b.org.admin, text="退款") == {other.pk}
    assert _ids(org.sup_south, text="退款") == set()  # found by ES, then scoped by the database
    searches = [body for method, path, body in fake_es.requests if path.split("?")[0].endswith("/_search")]
    assert searches
    for body in searches:
        assert {"term": {"tenant_id": org.tenant.pk}} in body["query"]["bool"]["filter"] or {
            "term": {"tenant_id": history_b.org.tenant.pk}
        } in body["query"]["bool"]["filter"]


def test_new_messages_are_indexed_after_commit_through_celery(history, fake_es, django_capture_on_commit_callbacks):
    org = history.org
    conv = history.served(at=T0, agent=org.agent_sh)
    from apps.conversations.models import Conversation

    Conversation.objects.filter(pk=conv.pk).update(status="active")
    with django_capture_on_commit_callbacks(execute=True):
        msg = message_create(conversation_id=conv.pk, sender_kind="visitor", body="发票开错了 invoice")
    docs = next(iter(fake_es.docs.values()))
    assert docs[str(msg.pk)]["body"] == "发票开错了 invoice"
    assert docs[str(msg.pk)]["tenant_id"] == org.tenant.pk


def test_elasticsearch_backend_returns_the_newest_conversations_first_up_to_the_limit(history, fake_es):
    org = history.org
    convs = []
    for hours in (0, 5, 30):
        conv = history.served(at=T0 - timedelta(hours=hours), agent=org.agent_sh)
        history.message(conv, at=T0 - timedelta(hours=hours) + timedelta(minutes=1), body="催一下发货")
        convs.append(conv.pk)
    call_command("reindex_messages")
    backend = get_backend()
    found = backend.search_conversation_ids(
        tenant_id=org.tenant.pk, text="发货", start=T0 - timedelta(days=3), end=T0 + timedelta(days=1), limit=2
    )
    assert found == convs[:2]
    search = [body for method, path, body in fake_es.requests if path.split("?")[0].endswith("/_search")][-1]
    assert search["sort"][0] == {"created_at": {"order": "desc"}} and search["size"] == 2
