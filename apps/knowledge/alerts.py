"""F53: keyword alerts. A tenant's high-risk words in visitor or agent messages flag the
conversation once per keyword and wake the supervisors whose subtree holds it (and super admins)."""

from __future__ import annotations

import time
import unicodedata

from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.knowledge.models import AlertKeyword, KeywordAlert, Severity
from apps.messaging.groups import agent_group
from apps.messaging.models import SenderKind
from apps.messaging.publish import publish

STAFF_KINDS = {SenderKind.AGENT, SenderKind.SUPERVISOR, SenderKind.SALESPERSON}
SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


def alert_to_dict(alert: KeywordAlert) -> dict:
    return {
        "id": alert.pk,
        "conversation_id": alert.conversation_id,
        "keyword": alert.word,
        "severity": alert.severity,
        "sender_kind": alert.sender_kind,
        "message_id": alert.message_id,
        "excerpt": alert.excerpt,
        "branch_id": alert.branch_id,
        "created_at": alert.created_at.isoformat() if alert.created_at else None,
    }


def alert_recipients(*, tenant_id: int, branch_id: int | None) -> list[int]:
    """Supervisors whose subtree contains the branch, and the tenant's super admins."""
    from apps.accounts.models import Branch, Role, User

    cond = Q(role=Role.SUPER_ADMIN)
    if branch_id is not None:
        branch = Branch.objects.filter(pk=branch_id).only("path", "depth").first()
        if branch is not None:
            cond |= Q(role=Role.SUPERVISOR, branch__path__in=branch.ancestor_paths)
    return list(
        User.objects.filter(tenant_id=tenant_id, is_active=True)
        .filter(cond)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _excerpt(text: str, word: str, width: int = 40) -> str:
    at = text.lower().find(word.lower())
    start = max(0, at - width)
    return text[start : at + len(word) + width][:200]


KEYWORDS_TTL = 30.0  # seconds a process trusts its copy of a tenant's keywords
_keywords: dict[int, tuple[float, list[tuple[int, str, bool, bool]]]] = {}


def forget_keywords(tenant_id: int | None = None) -> None:
    """Drop this process's copy (a keyword was saved here; other processes wait out the TTL)."""
    if tenant_id is None:
        _keywords.clear()
    else:
        _keywords.pop(tenant_id, None)


def _tenant_keywords(tenant_id: int) -> list[tuple[int, str, bool, bool]]:
    now = time.monotonic()
    cached = _keywords.get(tenant_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    rows = [
        (pk, unicodedata.normalize("NFKC", word).lower(), visitor, staff)
        for pk, word, visitor, staff in AlertKeyword.objects.filter(tenant_id=tenant_id, is_enabled=True)
        .order_by("id")
        .values_list("pk", "word", "watch_visitor", "watch_staff")
        if word
    ]
    _keywords[tenant_id] = (now + KEYWORDS_TTL, rows)
    return rows


def keyword_alerts_match(*, tenant_id: int, sender_kind: str, body: str) -> list[int]:
    """Ids of the tenant's enabled keywords in a message, from memory: runs on every message
    after commit, so it makes no query while the tenant's list is cached."""
    if sender_kind == SenderKind.VISITOR:
        column = 2
    elif sender_kind in STAFF_KINDS:
        column = 3
    else:
        return []
    if not body or not body.strip():
        return []
    keywords = _tenant_keywords(tenant_id)
    if not keywords:
        return []
    lowered = unicodedata.normalize("NFKC", body).lower()
    return [k[0] for k in keywords if k[column] and k[1] in lowered]


def keyword_alerts_scan(*, conversation, message) -> list[KeywordAlert]:
    """Flag a conversation for the keywords in one message (Celery, after the message
    committed: see receivers). Safe to run twice: an alert fires once per conversation per
    keyword (unique row)."""
    ids = keyword_alerts_match(tenant_id=conversation.tenant_id, sender_kind=message.sender_kind, body=message.body)
    if not ids:
        return []
    text = unicodedata.normalize("NFKC", message.body or "")
    if not text.strip():
        return []
    with transaction.atomic():
        # The flags are read and written under the conversation's row lock (a short one: no
        # network call, the wake-ups are published on commit).
        conversation = type(conversation).objects.select_for_update().get(pk=conversation.pk)
        return _flag(conversation, message, text, ids)


def _flag(conversation, message, text: str, ids: list[int]) -> list[KeywordAlert]:
    keywords = list(AlertKeyword.objects.filter(pk__in=ids, tenant_id=conversation.tenant_id, is_enabled=True))
    if not keywords:
        return []
    already = set(
        KeywordAlert.objects.filter(conversation_id=conversation.pk, keyword__in=keywords).values_list(
            "keyword_id", flat=True
        )
    )
    created: list[KeywordAlert] = []
    for keyword in keywords:
        if keyword.pk in already:
            continue
        try:
            with transaction.atomic():
                created.append(
                    KeywordAlert.objects.create(
                        tenant_id=conversation.tenant_id,
                        conversation_id=conversation.pk,
                        keyword=keyword,
                        word=keyword.word,
                        severity=keyword.severity,
                        branch_id=conversation.branch_id,
                        message=message,
                        sender_kind=message.sender_kind,
                        excerpt=_excerpt(text, keyword.word),
                    )
                )
        except IntegrityError:  # the unique (conversation, keyword) row exists: it fires once
            continue
    if not created:
        return []
    flags = dict(conversation.flags or {})
    words = list(dict.fromkeys([*flags.get("alert_words", []), *(a.word for a in created)]))
    top = max([flags.get("alert_severity", ""), *(a.severity for a in created)], key=lambda s: SEVERITY_RANK.get(s, 0))
    flags.update({"alert_words": words, "alert_severity": top})
    type(conversation).objects.filter(pk=conversation.pk).update(flags=flags)
    conversation.flags = flags
    groups = [
        agent_group(conversation.tenant_id, uid)
        for uid in alert_recipients(tenant_id=conversation.tenant_id, branch_id=conversation.branch_id)
    ]
    if groups:
        for alert in created:
            publish(
                groups, {"type": "alert.keyword", "conversation_id": conversation.pk, "alert": alert_to_dict(alert)}
            )
    return created


def keyword_alerts_for_messages(*, message_ids: list[int]) -> int:
    """The Celery side of the send path's scan: flag each message's conversation. Returns the
    number of alerts created."""
    from apps.messaging.models import Message

    n = 0
    for message in Message.objects.filter(pk__in=message_ids).select_related("conversation").order_by("pk"):
        n += len(keyword_alerts_scan(conversation=message.conversation, message=message))
    return n
