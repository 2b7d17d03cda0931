"""Learning from agents: questions the bot missed, the agents' replies, and one-click phrasings.

1. The bot records every question it answered below its confidence threshold, and the question
   behind every handoff (missed_question_record).
2. A periodic job (and the back-office page, before it shows the list) attaches the first agent
   reply that followed each question and matches that reply against the FAQ answers
   (missed_replies_collect): the entry the agent effectively answered with.
3. A knowledge-base admin sees them clustered by that entry, counted, and accepts a question as a
   similar phrasing of an entry with one click (missed_question_accept), which goes through
   faq_entry_update like any edit (validation, audit, index rebuild).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError, PermissionDenied
from apps.core.services import audit_record
from apps.knowledge.matching import REPLY_MATCH_MIN
from apps.knowledge.models import FaqEntry, MissedQuestion, MissedStatus

MIN_QUESTION_CHARS = 4


def missed_question_record(
    *, conversation, message, reason: str, confidence: float = 0.0, suggested_entry_id: int | None = None
) -> MissedQuestion | None:
    """Called by the bot inside its turn: one row per visitor message, at most."""
    text = (message.body or "").strip()
    if len(text) < MIN_QUESTION_CHARS:
        return None
    try:
        with transaction.atomic():
            return MissedQuestion.objects.create(
                tenant_id=conversation.tenant_id,
                conversation_id=conversation.pk,
                question_message=message,
                text=text[:200],
                reason=reason[:30],
                confidence=confidence,
                suggested_entry_id=suggested_entry_id,
            )
    except IntegrityError:  # a redelivered bot task: the row is already there
        return MissedQuestion.objects.filter(question_message=message).first()


def missed_question_record_handoff(*, conversation, message, reason: str, word: str = "") -> MissedQuestion | None:
    """The question behind a handoff: this message if it says more than the handoff word, else the
    visitor's previous question to the bot in this conversation."""
    from apps.messaging.models import ContentType, Message, SenderKind

    rest = (message.body or "").replace(word, "").strip() if word else (message.body or "").strip()
    if len(rest) >= MIN_QUESTION_CHARS:
        return missed_question_record(conversation=conversation, message=message, reason=f"handoff:{reason}")
    previous = (
        Message.objects.filter(
            conversation_id=conversation.pk,
            sender_kind=SenderKind.VISITOR,
            content_type=ContentType.TEXT,
            seq__lt=message.seq,
        )
        .order_by("-seq")
        .first()
    )
    if previous is None:
        return None
    return missed_question_record(conversation=conversation, message=previous, reason=f"handoff:{reason}")


def missed_replies_collect(*, tenant_id: int | None = None, limit: int = 500) -> int:
    """Attach the first agent reply after each pending question and match it to an FAQ answer.
    Safe to run twice: a row is finished once (reply found, or conversation closed without one)."""
    from apps.conversations.models import ConversationStatus
    from apps.knowledge.index import get_index
    from apps.messaging.models import Message, SenderKind, Visibility

    pending = MissedQuestion.objects.filter(reply_checked=False).select_related("question_message", "conversation")
    if tenant_id is not None:
        pending = pending.filter(tenant_id=tenant_id)
    done = 0
    for missed in pending.order_by("id")[:limit]:
        reply = (
            Message.objects.filter(
                conversation_id=missed.conversation_id,
                sender_kind=SenderKind.AGENT,
                visibility=Visibility.ALL,
                seq__gt=missed.question_message.seq,
            )
            .exclude(body="")
            .order_by("seq")
            .first()
        )
        if reply is None:
            if missed.conversation.status == ConversationStatus.CLOSED:
                MissedQuestion.objects.filter(pk=missed.pk).update(reply_checked=True)
                done += 1
            continue
        entry_id, score = get_index(missed.tenant_id).match_answer(reply.body)
        MissedQuestion.objects.filter(pk=missed.pk).update(
            reply_message=reply,
            reply_text=reply.body[:2000],
            matched_entry_id=entry_id if score >= REPLY_MATCH_MIN else None,
            match_score=score,
            reply_checked=True,
        )
        done += 1
    return done


def _reviewable(*, actor, missed_id: int) -> MissedQuestion:
    missed = MissedQuestion.objects.visible_to(actor).filter(pk=missed_id).first()
    if missed is None:
        from django.http import Http404

        raise Http404(_("Not found."))
    if missed.status != MissedStatus.OPEN:
        raise ApplicationError("already_reviewed", _("This question has already been reviewed."))
    return missed


def missed_question_accept(*, actor, missed_id: int, entry_id: int) -> MissedQuestion:
    """Add the question to the entry's similar phrasings (one click in the back office)."""
    from apps.knowledge.services import faq_entry_update

    missed = _reviewable(actor=actor, missed_id=missed_id)
    entry = FaqEntry.objects.visible_to(actor).filter(pk=entry_id, tenant_id=missed.tenant_id).first()
    if entry is None:
        from django.http import Http404

        raise Http404(_("Not found."))
    if not actor.can_reach_branch(entry.branch):
        raise PermissionDenied(_("Only a super admin can change company-wide entries."))
    with transaction.atomic():
        phrasings = list(entry.similar_questions or [])
        if missed.text not in phrasings and missed.text != entry.question:
            faq_entry_update(entry=entry, actor=actor, similar_questions=[*phrasings, missed.text])
        MissedQuestion.objects.filter(pk=missed.pk).update(
            status=MissedStatus.ACCEPTED, accepted_entry=entry, reviewed_by=actor
        )
        audit_record(actor=actor, action="kb.missed.accept", obj=missed, changes={"entry": entry.pk})
    missed.refresh_from_db()
    return missed


def missed_question_dismiss(*, actor, missed_id: int) -> MissedQuestion:
    missed = _reviewable(actor=actor, missed_id=missed_id)
    with transaction.atomic():
        MissedQuestion.objects.filter(pk=missed.pk).update(status=MissedStatus.DISMISSED, reviewed_by=actor)
        audit_record(actor=actor, action="kb.missed.dismiss", obj=missed)
    missed.refresh_from_db()
    return missed


# --- reads ------------------------------------------------------------------------------------


@dataclass
class MissedCluster:
    entry: FaqEntry | None  # the FAQ entry the agents' replies matched; None: no entry matched
    questions: list[MissedQuestion] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.questions)


def missed_question_clusters(*, actor, limit: int = 2000) -> list[MissedCluster]:
    """Open questions the actor may review, grouped by the FAQ entry the agent's reply matched (those
    without a match grouped by the bot's own best guess), biggest group first."""
    rows = (
        MissedQuestion.objects.visible_to(actor)
        .filter(status=MissedStatus.OPEN)
        .filter(Q(reply_checked=True) | Q(reply_message__isnull=True))
        .select_related("matched_entry", "suggested_entry", "conversation")
        .order_by("-id")[:limit]
    )
    clusters: dict[object, MissedCluster] = {}
    for missed in rows:
        entry = missed.matched_entry
        key = ("matched", entry.pk) if entry is not None else ("unmatched", None)
        clusters.setdefault(key, MissedCluster(entry=entry)).questions.append(missed)
    return sorted(clusters.values(), key=lambda c: (c.entry is None, -c.count))
