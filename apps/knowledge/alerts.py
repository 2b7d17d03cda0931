"""F53: keyword alerts. A tenant's high-risk words in visitor or agent messages flag the
conversation once per keyword and wake the supervisors whose subtree holds it (and super admins)."""

from __future__ import annotations

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


def keyword_alerts_scan(*, conversation, message) -> list[KeywordAlert]:
    """Runs inside the sending transaction (conversation row locked): cheap when nothing matches."""
    if message.sender_kind == SenderKind.VISITOR:
        watch = Q(watch_visitor=True)
    elif message.sender_kind in STAFF_KINDS:
        watch = Q(watch_staff=True)
    else:
        return []
    text = unicodedata.normalize("NFKC", message.body or "")
    if not text.strip():
        return []
    lowered = text.lower()
    keywords = [
        k
        for k in AlertKeyword.objects.filter(watch, tenant_id=conversation.tenant_id, is_enabled=True)
        if k.word and k.word.lower() in lowered
    ]
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
