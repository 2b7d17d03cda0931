"""Elasticsearch backend (django-elasticsearch-dsl), enabled by settings.ELASTICSEARCH_URL.

Mapping for Chinese: `body` uses the analyzer named by settings.REPORTS_ES_ANALYZER, "smartcn"
by default (the analysis-smartcn plugin, installed by docker/elasticsearch.Dockerfile, segments
Chinese into words); `body.cjk` uses the built-in `cjk` analyzer (overlapping bigrams, no plugin,
also good for names and mixed Chinese/English). Queries are phrase matches on both, always
filtered by tenant_id. Indexing happens after commit through Celery (apps.search.tasks), never
from model signals (ELASTICSEARCH_DSL_AUTOSYNC is off); `manage.py reindex_messages` rebuilds it.
Staff-only (whisper) messages are indexed with their visibility so a visitor-facing search can
exclude them; history search is staff-only.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django_elasticsearch_dsl import Document, fields
from django_elasticsearch_dsl.registries import registry
from elasticsearch.dsl import connections

from apps.messaging.models import Message
from apps.search.base import MAX_CONVERSATIONS

INDEX_NAME = f"{getattr(settings, 'ELASTICSEARCH_INDEX_PREFIX', 'kefu-')}messages"
CHINESE_ANALYZER = getattr(settings, "REPORTS_ES_ANALYZER", "smartcn")


@registry.register_document
class MessageDocument(Document):
    tenant_id = fields.IntegerField()
    conversation_id = fields.IntegerField()
    sender_kind = fields.KeywordField()
    visibility = fields.KeywordField()
    created_at = fields.DateField()
    body = fields.TextField(analyzer=CHINESE_ANALYZER, fields={"cjk": fields.TextField(analyzer="cjk")})

    class Index:
        name = INDEX_NAME
        settings = {"number_of_shards": 1, "number_of_replicas": 0}

    class Django:
        model = Message
        ignore_signals = True
        auto_refresh = False
        queryset_pagination = 2000

    def prepare(self, instance) -> dict:
        # Explicit (the generic field preparers depend on elasticsearch-dsl internals).
        return {
            "tenant_id": instance.tenant_id,
            "conversation_id": instance.conversation_id,
            "sender_kind": instance.sender_kind,
            "visibility": instance.visibility,
            "created_at": instance.created_at.isoformat(),
            "body": instance.body,
        }

    def get_queryset(self):
        return Message.objects.filter(content_type="text").only(
            "id", "tenant_id", "conversation_id", "sender_kind", "visibility", "created_at", "body"
        )


_configured: set[str] = set()


def _connect(url: str) -> None:
    if url not in _configured:
        connections.configure(default={"hosts": [url], "request_timeout": 10})
        _configured.clear()
        _configured.add(url)


class ElasticsearchBackend:
    name = "elasticsearch"
    max_limit = 10_000  # index.max_result_window

    def __init__(self, url: str):
        _connect(url)

    def ensure_index(self) -> None:
        index = MessageDocument._index
        if not index.exists():
            MessageDocument.init()

    def search_conversation_ids(
        self, *, tenant_id: int, text: str, start: datetime, end: datetime, limit: int = MAX_CONVERSATIONS
    ) -> list[int]:
        text = text.strip()
        if not text or not tenant_id:
            return []
        s = (
            MessageDocument.search()
            .filter("term", tenant_id=tenant_id)
            .filter("range", created_at={"gte": start.isoformat(), "lt": end.isoformat()})
            .query("multi_match", query=text, type="phrase", fields=["body", "body.cjk"])
            .sort({"created_at": {"order": "desc"}}, {"conversation_id": {"order": "desc"}})
            .source(["conversation_id"])
            .extra(collapse={"field": "conversation_id"}, size=limit)
        )
        seen: list[int] = []
        for hit in s.execute():
            cid = int(hit.conversation_id)
            if cid not in seen:
                seen.append(cid)
        return seen

    def index_messages(self, *, message_ids: list[int]) -> int:
        self.ensure_index()
        doc = MessageDocument()
        qs = doc.get_queryset().filter(pk__in=message_ids)
        ok, _errors = doc.update(qs)
        return ok

    def forget_messages(self, *, message_ids: list[int]) -> int:
        """Delete the messages' documents (bulk delete; a document already gone is not an error)."""
        from elasticsearch.helpers import bulk

        if not message_ids:
            return 0
        self.ensure_index()
        actions = ({"_op_type": "delete", "_index": INDEX_NAME, "_id": str(i)} for i in message_ids)
        ok, _errors = bulk(MessageDocument._get_connection(), actions, raise_on_error=False, refresh=True)
        return ok

    def reindex_all(self, *, tenant_id: int | None = None, batch: int = 2000) -> int:
        index = MessageDocument._index
        if tenant_id is None and index.exists():
            index.delete()
        self.ensure_index()
        doc = MessageDocument()
        qs = doc.get_queryset().order_by("id")
        if tenant_id is not None:
            qs = qs.filter(tenant_id=tenant_id)
        total = 0
        last = 0
        while True:
            chunk = list(qs.filter(id__gt=last)[:batch])
            if not chunk:
                break
            doc.update(chunk)
            total += len(chunk)
            last = chunk[-1].id
        return total
