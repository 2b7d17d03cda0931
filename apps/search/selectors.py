"""Full-text search over message content: one interface, two backends.

`get_backend()` returns the Elasticsearch backend when settings.ELASTICSEARCH_URL is set,
otherwise the database backend. Every query carries the tenant filter.
"""

from __future__ import annotations

from django.conf import settings

from apps.search.base import MAX_CONVERSATIONS, SearchBackend

__all__ = ["MAX_CONVERSATIONS", "SearchBackend", "get_backend"]


def get_backend() -> SearchBackend:
    if getattr(settings, "ELASTICSEARCH_URL", ""):
        from apps.search.elastic import ElasticsearchBackend

        return ElasticsearchBackend(settings.ELASTICSEARCH_URL)
    from apps.search.db import DatabaseBackend

    return DatabaseBackend()
