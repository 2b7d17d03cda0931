"""The database full-text backend's index (apps.search.db)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchTerm(models.Model):
    """Inverted index of the database full-text backend: one row per (conversation, term).

    The primary key is the query's access path: (tenant, term, conversation start, conversation),
    so "conversations of this tenant containing this term, newest first, in this range" is one
    range scan of the clustered index. Rows are written in the message's own transaction
    (`apps.search.db`) and rebuilt by `manage.py reindex_messages`.
    """

    pk = models.CompositePrimaryKey("tenant_id", "term", "created_at", "conversation_id")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, db_index=False, related_name="+")
    term = models.BigIntegerField()
    created_at = models.DateTimeField()  # the conversation's created_at, the history filter's axis
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")
        db_table = "reports_searchterm"  # moved from apps.reports with its rows
