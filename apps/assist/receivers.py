"""A transfer or a close asks for a summary: after the commit (no lock held), when the tenant has
AI assistance on, a pending summary row and its task."""

from __future__ import annotations

from django.db import transaction

from apps.conversations import hooks


def _after_commit(*, tenant_id: int, conversation_id: int, event_id: int, kind: str, reason: str) -> None:
    from apps.assist.services import summary_create
    from apps.assist.tasks import summary_task

    summary = summary_create(
        tenant_id=tenant_id, conversation_id=conversation_id, event_id=event_id, kind=kind, reason=reason
    )
    if summary is not None:
        summary_task.delay(summary.pk)


@hooks.on_lifecycle_event
def summary_on_transfer_or_close(*, event) -> None:
    from apps.assist.services import summary_trigger

    if not summary_trigger(kind=event.kind, reason=event.reason):
        return
    values = {
        "tenant_id": event.tenant_id,
        "conversation_id": event.conversation_id,
        "event_id": event.pk,
        "kind": event.kind,
        "reason": event.reason,
    }
    # robust: a failure here (the database away a moment) is logged and never stops the other
    # after-commit work of the transfer or close (the wake-ups of messaging).
    transaction.on_commit(lambda: _after_commit(**values), robust=True)
