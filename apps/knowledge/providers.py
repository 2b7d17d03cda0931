"""Answer providers: where the bot's answers come from.

The built-in one ranks the tenant's FAQ (BM25, apps.knowledge.matching). A tenant may attach an
external AI service over HTTP instead (off by default); when it fails or times out the bot falls
back to the knowledge base, so a broken integration never leaves a visitor without an answer.

HTTP contract (POST JSON, optional `Authorization: Bearer <token>`):
    request  {"question": str, "tenant": str, "channel_id": int|null, "conversation_id": int|null, "k": int}
    response {"answers": [{"answer": str, "confidence": float 0..1, "question": str?, "entry_id": int?}]}
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from apps.knowledge import semantic
from apps.knowledge.index import get_index, scope_filter
from apps.knowledge.models import BotSettings, FaqEntry, Provider
from apps.outbound.guard import guarded_request

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    answer: str
    confidence: float
    question: str = ""
    entry_id: int | None = None
    links: list = field(default_factory=list)
    images: list = field(default_factory=list)
    ask_slots: list = field(default_factory=list)
    provider: str = Provider.LOCAL

    def as_dict(self) -> dict:
        return {
            "entry_id": self.entry_id,
            "question": self.question,
            "answer": self.answer,
            "confidence": round(self.confidence, 4),
            "links": self.links,
            "images": self.images,
            "provider": self.provider,
        }


@dataclass
class AskContext:
    tenant_id: int
    tenant_slug: str = ""
    channel_id: int | None = None
    branch_path: str | None = None
    conversation_id: int | None = None


class AnswerProvider(Protocol):
    name: str

    def answer(self, *, text: str, context: AskContext, k: int = 3) -> list[Answer]: ...


class LocalProvider:
    name = Provider.LOCAL

    def answer(self, *, text: str, context: AskContext, k: int = 3) -> list[Answer]:
        index = get_index(context.tenant_id)
        candidates = index.search(
            text,
            k=max(k, semantic.RERANK_CANDIDATES),
            allow=scope_filter(channel_id=context.channel_id, branch_path=context.branch_path),
        )
        if not candidates:
            return []
        rows = FaqEntry.objects.in_bulk([m.entry_id for m in candidates])
        candidates = [m for m in candidates if m.entry_id in rows]  # deleted since the index was built
        # A close call between the lexical candidates is settled by the sentence model.
        matches = semantic.rerank(
            text,
            candidates,
            score=lambda m: m.score,
            passage=lambda m: f"{rows[m.entry_id].question} {rows[m.entry_id].answer}",
        )[:k]
        out = []
        for m in matches:
            entry = rows[m.entry_id]
            out.append(
                Answer(
                    answer=entry.answer,
                    confidence=m.confidence,
                    question=entry.question,
                    entry_id=entry.pk,
                    links=entry.links or [],
                    images=entry.images or [],
                    ask_slots=entry.ask_slots or [],
                )
            )
        return out


class HttpProvider:
    name = Provider.HTTP

    def __init__(self, *, url: str, token: str = "", timeout: float = 3.0, fallback: AnswerProvider | None = None):
        self.url = url
        self.token = token
        self.timeout = timeout
        self.fallback = fallback

    def _call(self, text: str, context: AskContext, k: int) -> list[Answer]:
        if not self.url.lower().startswith(("https://", "http://")):
            raise ValueError("only http(s) answer services are supported")
        body = json.dumps(
            {
                "question": text,
                "tenant": context.tenant_slug,
                "channel_id": context.channel_id,
                "conversation_id": context.conversation_id,
                "k": k,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # A tenant-configured URL: through the guard (no internal addresses), with the tenant's timeout.
        response = guarded_request("POST", self.url, content=body, headers=headers, timeout=self.timeout)
        response.raise_for_status()
        data = json.loads(response.content.decode("utf-8"))
        answers = []
        for item in (data.get("answers") or [])[:k]:
            text_answer = str(item.get("answer") or "").strip()
            if not text_answer:
                continue
            try:
                confidence = max(0.0, min(1.0, float(item.get("confidence", 0))))
            except (TypeError, ValueError):
                confidence = 0.0
            entry_id = item.get("entry_id")
            answers.append(
                Answer(
                    answer=text_answer[:5000],
                    confidence=confidence,
                    question=str(item.get("question") or "")[:200],
                    entry_id=entry_id if isinstance(entry_id, int) else None,
                    provider=Provider.HTTP,
                )
            )
        return answers

    def answer(self, *, text: str, context: AskContext, k: int = 3) -> list[Answer]:
        try:
            answers = self._call(text, context, k)
        except (httpx.HTTPError, TimeoutError, ValueError, OSError, AttributeError):
            logger.warning("external answer provider %s failed; using the knowledge base", self.url, exc_info=True)
            answers = []
        if not answers and self.fallback is not None:
            return self.fallback.answer(text=text, context=context, k=k)
        if answers:
            # An entry id from outside is only kept when it is one of this tenant's entries.
            ids = [a.entry_id for a in answers if a.entry_id]
            own = set(FaqEntry.objects.filter(tenant_id=context.tenant_id, pk__in=ids).values_list("pk", flat=True))
            for a in answers:
                if a.entry_id not in own:
                    a.entry_id = None
        return answers


def provider_for(settings: BotSettings | None) -> AnswerProvider:
    local = LocalProvider()
    if settings is not None and settings.provider == Provider.HTTP and settings.provider_url:
        return HttpProvider(
            url=settings.provider_url, token=settings.provider_token, timeout=settings.provider_timeout, fallback=local
        )
    return local
