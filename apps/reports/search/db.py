"""The embedded default: LIKE over message bodies, bounded by tenant, time range and a limit.

LIKE '%text%' works for Chinese (no word segmentation needed) and English alike; the time range
(the history filter's, at most MAX_DAYS) and the tenant keep the scan bounded, the limit keeps
the IN list small.
"""

from __future__ import annotations

from datetime import datetime

from apps.messaging.models import Message
from apps.reports.search.base import MAX_CONVERSATIONS


class DatabaseBackend:
    name = "database"

    def search_conversation_ids(
        self, *, tenant_id: int, text: str, start: datetime, end: datetime, limit: int = MAX_CONVERSATIONS
    ) -> list[int]:
        text = text.strip()
        if not text:
            return []
        qs = Message.objects.filter(
            tenant_id=tenant_id, created_at__gte=start, created_at__lt=end, content_type="text", body__icontains=text
        )
        return list(qs.values_list("conversation_id", flat=True).distinct()[:limit])

    def index_messages(self, *, message_ids: list[int]) -> int:
        return 0

    def reindex_all(self, *, tenant_id: int | None = None, batch: int = 2000) -> int:
        return 0
