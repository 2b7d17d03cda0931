"""One in-process matching index per tenant, rebuilt when the tenant's version counter moves.

The counter (KbIndexState.version) is bumped in the same transaction as every change to the
tenant's entries or vocabulary, so every process (daphne, Celery workers) notices on its next
lookup: one indexed primary-key read per query.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db.models import F
from django.utils import timezone

from apps.knowledge.matching import EntryMeta, KbIndex, build_index
from apps.knowledge.models import FaqEntry, KbIndexState, KbTerm, TermKind

logger = logging.getLogger(__name__)
_indexes: dict[int, KbIndex] = {}
_build_lock = threading.Lock()


def index_version(tenant_id: int) -> int:
    return KbIndexState.objects.filter(tenant_id=tenant_id).values_list("version", flat=True).first() or 0


def index_bump(*, tenant_id: int) -> None:
    """Call inside the writing transaction: every process rebuilds on its next lookup."""
    if not KbIndexState.objects.filter(tenant_id=tenant_id).update(version=F("version") + 1):
        KbIndexState.objects.get_or_create(tenant_id=tenant_id, defaults={"version": 1})


def _build(tenant_id: int, version: int) -> KbIndex:
    rows = (
        FaqEntry.objects.filter(tenant_id=tenant_id, is_enabled=True)
        .order_by("id")
        .values_list(
            "id",
            "question",
            "similar_questions",
            "answer",
            "category",
            "branch__path",
            "channel_id",
            "valid_from",
            "valid_to",
        )
    )
    entries = []
    for pk, question, similar, answer, category, branch_path, channel_id, valid_from, valid_to in rows.iterator(2000):
        meta = EntryMeta(
            id=pk,
            question=question,
            branch_path=branch_path,
            channel_id=channel_id,
            valid_from=valid_from,
            valid_to=valid_to,
            category=category,
        )
        entries.append((meta, [question, *[s for s in (similar or []) if isinstance(s, str)]], answer))
    words: list[str] = []
    synonyms: dict[str, list[str]] = {}
    for term in KbTerm.objects.filter(tenant_id=tenant_id):
        if term.kind == TermKind.WORD:
            words.append(term.term)
            words.extend(term.synonym_list())
        else:
            synonyms.setdefault(term.term, []).extend(term.synonym_list())
    return build_index(version=version, entries=entries, words=words, synonyms=synonyms)


# Above this many phrasings a stale index keeps answering while a thread builds the new one,
# instead of holding a visitor's request for the seconds a large build takes.
BACKGROUND_REBUILD_PHRASINGS = 5000
_rebuilding: set[int] = set()


def _rebuild_in_background(tenant_id: int, version: int) -> None:
    from django.db import connection

    try:
        index = _build(tenant_id, version)
        with _build_lock:
            current = _indexes.get(tenant_id)
            if current is None or current.version < index.version:
                _indexes[tenant_id] = index
    except Exception:  # noqa: BLE001 - the next lookup tries again; the stale index keeps serving
        logger.exception("background rebuild of the knowledge index of tenant %s failed", tenant_id)
    finally:
        _rebuilding.discard(tenant_id)
        connection.close()


def get_index(tenant_id: int) -> KbIndex:
    version = index_version(tenant_id)
    index = _indexes.get(tenant_id)
    if index is not None and index.version == version:
        return index
    if index is not None and len(index.doc_text) > BACKGROUND_REBUILD_PHRASINGS:
        with _build_lock:
            start = tenant_id not in _rebuilding
            _rebuilding.add(tenant_id)
        if start:
            threading.Thread(target=_rebuild_in_background, args=(tenant_id, version), daemon=True).start()
        return index
    with _build_lock:
        index = _indexes.get(tenant_id)
        if index is None or index.version != version:
            index = _build(tenant_id, version)
            _indexes[tenant_id] = index
    return index


def scope_filter(*, channel_id: int | None, branch_path: str | None, when=None) -> Callable[[EntryMeta], bool]:
    """Entries a visitor on this channel may see: company-wide, the channel's own, or its branch's (and
    ancestors'), inside their validity dates."""
    now = when or timezone.now()
    branch_path = branch_path or ""

    def allow(meta: EntryMeta) -> bool:
        if meta.channel_id is not None and meta.channel_id != channel_id:
            return False
        if meta.branch_path and not branch_path.startswith(meta.branch_path):
            return False
        if meta.valid_from is not None and now < meta.valid_from:
            return False
        return not (meta.valid_to is not None and now > meta.valid_to)

    return allow
