"""The embedded default: an inverted index in the database (`SearchTerm`), any SQL backend.

Indexing: each text message's terms (`terms.py`: Chinese bigrams, whole Latin words) are added
for its conversation by a Celery task after the message commits, one INSERT IGNORE per batch of
messages the send path committed together (`index_messages`; running it twice changes nothing);
`reindex_all` rebuilds it.

Query: the tenant's conversations that contain every term of the text, newest first, read off
the primary key (tenant, term, conversation start, conversation):

* one term: a single backward range scan, stopped at the limit;
* several terms: grouped per conversation, in time windows that grow from one day going back,
  so a frequent pair over a year stops as soon as the newest `limit` conversations are found and
  a rare pair scans little in each window;
* terms can match in different messages or positions, so multi-term candidates are confirmed
  by a substring check over the candidates' messages;
* a text with no term at all (one Chinese character) falls back to a substring scan of the
  range's messages, bounded by the limit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count
from django.db.models.constants import OnConflict

from apps.messaging.models import Message
from apps.search.base import MAX_CONVERSATIONS
from apps.search.models import SearchTerm
from apps.search.terms import query_terms, text_terms

INDEXED_CONTENT_TYPE = "text"
FIRST_WINDOW = timedelta(days=1)
WINDOW_GROWTH = 4
CONFIRM_CHUNK = 500


def index_message(*, conversation, message) -> int:
    """Add one message's terms (idempotent: existing rows are kept), in one statement."""
    return _insert_terms([(conversation, message)])


def _insert_terms(pairs: list[tuple]) -> int:
    """One hand-built INSERT IGNORE for the terms of many messages (bulk_create's per-object work
    showed in profiles); rows already there are kept."""
    rows: dict[tuple, tuple] = {}
    for conversation, message in pairs:
        if message.content_type != INDEXED_CONTENT_TYPE or not message.body:
            continue
        created_at = SearchTerm._meta.get_field("created_at").get_db_prep_value(
            conversation.created_at, connection, prepared=False
        )
        for term in text_terms(message.body):
            rows.setdefault((conversation.pk, term), (conversation.tenant_id, term, created_at, conversation.pk))
    if not rows:
        return 0
    ops = connection.ops
    columns = ", ".join(ops.quote_name(c) for c in ("tenant_id", "term", "created_at", "conversation_id"))
    sql = "{} {} ({}) VALUES {}{}".format(
        ops.insert_statement(on_conflict=OnConflict.IGNORE),
        ops.quote_name(SearchTerm._meta.db_table),
        columns,
        ", ".join(["(%s, %s, %s, %s)"] * len(rows)),
        " " + suffix if (suffix := ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], [])) else "",
    )
    params: list = [value for row in rows.values() for value in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(rows)


class DatabaseBackend:
    name = "database"
    max_limit = 50_000

    def search_conversation_ids(
        self, *, tenant_id: int, text: str, start: datetime, end: datetime, limit: int = MAX_CONVERSATIONS
    ) -> list[int]:
        text = " ".join((text or "").split())
        if not text or not tenant_id:
            return []
        part_terms = {part: query_terms(part) for part in text.split(" ")}
        parts = list(part_terms)
        terms = list(dict.fromkeys(t for ts in part_terms.values() for t in ts))
        if not terms:
            return self._scan(tenant_id=tenant_id, parts=parts, start=start, end=end, limit=limit)
        # A part whose terms alone do not prove it occurs as written (several terms, or a lone
        # Chinese character next to them) needs the substring check.
        to_confirm = [p for p, ts in part_terms.items() if len(ts) != 1 or len(p) < 2]
        if len(terms) == 1 and not to_confirm:
            return list(
                SearchTerm.objects.filter(tenant_id=tenant_id, term=terms[0], created_at__gte=start, created_at__lt=end)
                .order_by("-created_at", "-conversation_id")
                .values_list("conversation_id", flat=True)[:limit]
            )
        found: list[int] = []
        window = FIRST_WINDOW
        w_end = end
        while w_end > start and len(found) < limit:
            w_start = max(start, w_end - window)
            candidates = list(
                SearchTerm.objects.filter(
                    tenant_id=tenant_id, term__in=terms, created_at__gte=w_start, created_at__lt=w_end
                )
                .values("conversation_id", "created_at")
                .annotate(n=Count("term"))
                .filter(n=len(terms))
                .order_by("-created_at", "-conversation_id")
                .values_list("conversation_id", flat=True)
            )
            if to_confirm:
                # Newest first, a chunk at a time, only as far as the limit needs.
                for i in range(0, len(candidates), CONFIRM_CHUNK):
                    found.extend(
                        self._confirm(tenant_id=tenant_id, ids=candidates[i : i + CONFIRM_CHUNK], parts=to_confirm)
                    )
                    if len(found) >= limit:
                        break
            else:
                found.extend(candidates)
            w_end = w_start
            window *= WINDOW_GROWTH
        return found[:limit]

    def _confirm(self, *, tenant_id: int, ids: list[int], parts: list[str]) -> list[int]:
        ok = set(ids)
        for part in parts:
            if not ok:
                break
            ok &= set(
                Message.objects.filter(
                    tenant_id=tenant_id,
                    conversation_id__in=sorted(ok),
                    content_type=INDEXED_CONTENT_TYPE,
                    body__icontains=part,
                )
                .values_list("conversation_id", flat=True)
                .distinct()
            )
        return [i for i in ids if i in ok]

    def _scan(self, *, tenant_id: int, parts: list[str], start: datetime, end: datetime, limit: int) -> list[int]:
        qs = Message.objects.filter(
            tenant_id=tenant_id,
            conversation__created_at__gte=start,
            conversation__created_at__lt=end,
            content_type=INDEXED_CONTENT_TYPE,
        )
        for part in parts:
            qs = qs.filter(body__icontains=part)
        return list(qs.order_by().values_list("conversation_id", flat=True).distinct()[:limit])

    def index_messages(self, *, message_ids: list[int]) -> int:
        """The send path's batch (a Celery task after commit): one statement for all of them."""
        messages = Message.objects.filter(pk__in=message_ids, content_type=INDEXED_CONTENT_TYPE).select_related(
            "conversation"
        )
        return _insert_terms([(m.conversation, m) for m in messages])

    def forget_messages(self, *, message_ids: list[int]) -> int:
        """Nothing to do here: the database index is per conversation, and whoever empties a
        conversation deletes its SearchTerm rows in the same transaction (apps.privacy.scrub)."""
        return 0

    def reindex_all(self, *, tenant_id: int | None = None, batch: int = 2000) -> int:
        """Rebuild from the messages: the tenant's rows (or all) are replaced, batch by batch."""
        from apps.conversations.models import Conversation

        convs = Conversation.objects.order_by("pk")
        if tenant_id is not None:
            convs = convs.filter(tenant_id=tenant_id)
        last = 0
        messages_done = 0
        while True:
            chunk = list(convs.filter(pk__gt=last).values_list("pk", "tenant_id", "created_at")[:batch])
            if not chunk:
                break
            last = chunk[-1][0]
            meta = {pk: (t, c) for pk, t, c in chunk}
            rows: dict[tuple, SearchTerm] = {}
            bodies = Message.objects.filter(
                conversation_id__in=list(meta), content_type=INDEXED_CONTENT_TYPE
            ).values_list("conversation_id", "body")
            for conv_id, body in bodies.iterator(chunk_size=5000):
                messages_done += 1
                t, created = meta[conv_id]
                for term in text_terms(body):
                    rows.setdefault(
                        (conv_id, term),
                        SearchTerm(tenant_id=t, term=term, created_at=created, conversation_id=conv_id),
                    )
            with transaction.atomic():
                SearchTerm.objects.filter(conversation_id__in=list(meta)).delete()
                SearchTerm.objects.bulk_create(list(rows.values()), batch_size=5000)
        return messages_done
