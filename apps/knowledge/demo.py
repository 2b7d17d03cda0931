"""Demo data: the logistics FAQ, vocabulary, bot settings and alert keywords for the demo tenant.

Idempotent: entries are matched by their standard question, words and keywords by their text.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from apps.core import demo
from apps.knowledge.index import index_bump
from apps.knowledge.models import AlertKeyword, FaqEntry, KbTerm, Severity, TermKind
from apps.knowledge.services import bot_settings_get

FAQ_FILE = Path(__file__).resolve().parent / "data" / "faq_logistics_zh.json"

DEMO_WORDS = ["快运", "到付", "签收", "单号", "零担", "整车", "上楼费", "偏远附加费"]
DEMO_SYNONYMS = {"快运": "零担快运,大件快运", "到付": "运费到付,收方付款"}
DEMO_ALERTS = [
    ("投诉", Severity.HIGH),
    ("12315", Severity.CRITICAL),
    ("报警", Severity.CRITICAL),
    ("媒体", Severity.HIGH),
    ("曝光", Severity.HIGH),
    ("律师", Severity.HIGH),
    ("起诉", Severity.CRITICAL),
    ("邮政局", Severity.HIGH),
]


def load_faq() -> list[dict]:
    return json.loads(FAQ_FILE.read_text(encoding="utf-8"))


def load_into_tenant(*, tenant_id: int) -> int:
    """Add the FAQ set to a tenant (skipping questions it already has). Returns entries added."""
    have = set(FaqEntry.objects.filter(tenant_id=tenant_id).values_list("question", flat=True))
    new = [
        FaqEntry(
            tenant_id=tenant_id,
            question=f["question"],
            similar_questions=f["similar"],
            answer=f["answer"],
            category=f["category"],
            ask_slots=f.get("ask_slots", []),
        )
        for f in load_faq()
        if f["question"] not in have
    ]
    with transaction.atomic():
        FaqEntry.objects.bulk_create(new)
        if new:
            index_bump(tenant_id=tenant_id)
    return len(new)


@demo.register
def knowledge_demo(*, tenant, branches) -> None:
    with transaction.atomic():
        load_into_tenant(tenant_id=tenant.pk)
        for word in DEMO_WORDS:
            KbTerm.objects.get_or_create(tenant=tenant, kind=TermKind.WORD, term=word)
        for head, syns in DEMO_SYNONYMS.items():
            KbTerm.objects.get_or_create(tenant=tenant, kind=TermKind.SYNONYM, term=head, defaults={"synonyms": syns})
        for word, severity in DEMO_ALERTS:
            AlertKeyword.objects.get_or_create(tenant=tenant, word=word, defaults={"severity": severity})
        settings = bot_settings_get(tenant_id=tenant.pk)
        if not settings.slots_before_handoff:
            settings.slots_before_handoff = ["phone"]
            settings.save(update_fields=["slots_before_handoff"])
        index_bump(tenant_id=tenant.pk)
