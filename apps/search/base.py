from __future__ import annotations

from datetime import datetime
from typing import Protocol

MAX_CONVERSATIONS = 2000


class SearchBackend(Protocol):
    name: str
    max_limit: int  # the most conversation ids one search returns (exports ask for up to this)

    def search_conversation_ids(
        self, *, tenant_id: int, text: str, start: datetime, end: datetime, limit: int = MAX_CONVERSATIONS
    ) -> list[int]:
        """Ids of the tenant's conversations with a text message containing `text` in [start, end)."""

    def index_messages(self, *, message_ids: list[int]) -> int:
        """(Re)index these messages; a no-op for the database backend."""

    def reindex_all(self, *, tenant_id: int | None = None, batch: int = 2000) -> int:
        """Rebuild the index from the database."""

    def forget_messages(self, *, message_ids: list[int]) -> int:
        """Drop these messages from the index (their content was erased or deleted); safe to repeat."""
