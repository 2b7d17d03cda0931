"""New messages are indexed for full-text search after commit."""

from __future__ import annotations

from apps.messaging import hooks as message_hooks


@message_hooks.on_messages_committed
def index_messages_for_search(*, messages) -> None:
    """Full-text index (database or Elasticsearch backend): one Celery task per committed batch,
    off the send path; the task is idempotent (INSERT IGNORE / same document id)."""
    ids = [m.pk for m in messages if m.content_type == "text" and m.body]
    if ids:
        from apps.search.tasks import index_messages_task

        index_messages_task.delay(ids)
