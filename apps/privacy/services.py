"""Retention and personal-information requests: every write of apps.privacy."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record, require_tenant_admin, tenant_settings_get
from apps.privacy import scrub
from apps.privacy.models import (
    ErasedConversation,
    PersonalDataRequest,
    RequestKind,
    RequestStatus,
    RetentionMode,
    RetentionPolicy,
)

log = logging.getLogger(__name__)

RETENTION_FIELDS = ("messages_days", "messages_mode", "attachments_days", "visitor_trails_days", "exports_days")
MAX_DAYS = 36500
BATCH = 200
VIEW_AUDIT_SECONDS = 600


def access_file_ttl() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "PRIVACY_ACCESS_FILE_DAYS", 7))


# --- retention policy ----------------------------------------------------------------------------


def retention_policy_get(*, tenant_id: int) -> RetentionPolicy:
    return tenant_settings_get(RetentionPolicy, tenant_id=tenant_id)


def _require_admin(actor, tenant_id: int) -> None:
    require_tenant_admin(
        actor, tenant_id, _("Only the company's administrators handle retention and personal-information requests.")
    )


def retention_policy_update(*, actor, tenant_id: int, **changes: Any) -> RetentionPolicy:
    """Validated as a whole (nothing is saved when one value is wrong), audited with old → new."""
    _require_admin(actor, tenant_id)
    unknown = set(changes) - set(RETENTION_FIELDS)
    if unknown:
        raise ApplicationError("invalid", _("Unknown setting: %(name)s") % {"name": ", ".join(sorted(unknown))})
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "messages_mode":
            if value not in RetentionMode.values:
                raise ApplicationError("invalid", _("Choose delete or anonymise."), extra={"fields": {name: value}})
            clean[name] = value
            continue
        try:
            days = int(value)
        except (TypeError, ValueError):
            days = -1
        if isinstance(value, bool) or days < 0 or days > MAX_DAYS:
            raise ApplicationError(
                "invalid",
                _("A period is a whole number of days from 0 (keep for ever) to %(max)d.") % {"max": MAX_DAYS},
                extra={"fields": {name: value}},
            )
        clean[name] = days
    with transaction.atomic():
        policy = retention_policy_get(tenant_id=tenant_id)
        policy = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
        diff = {k: [getattr(policy, k), v] for k, v in clean.items() if getattr(policy, k) != v}
        for k, v in clean.items():
            setattr(policy, k, v)
        policy.save()
        if diff:
            audit_record(actor=actor, action="privacy.retention_update", obj=policy, changes=diff)
    return policy


# --- retention job ---------------------------------------------------------------------------------


def _batches(make_qs, work, deadline: float, batch: int) -> int:
    """Run `work` on successive batches of ids until none is left or the time budget is spent.
    Each batch is its own short transaction, so other writers never wait long."""
    done = 0
    while time.monotonic() < deadline:
        ids = list(make_qs()[:batch])
        if not ids:
            break
        work(ids)
        done += len(ids)
        if len(ids) < batch:
            break
    return done


def _retention_messages(policy: RetentionPolicy, now: dt.datetime, deadline: float, batch: int) -> int:
    from apps.conversations.models import Conversation, ConversationStatus

    cutoff = now - dt.timedelta(days=policy.messages_days)
    delete = policy.messages_mode == RetentionMode.DELETE

    def pending():
        return (
            Conversation.objects.filter(
                tenant_id=policy.tenant_id, status=ConversationStatus.CLOSED, closed_at__lt=cutoff
            )
            .exclude(Exists(ErasedConversation.objects.filter(conversation_id=OuterRef("pk"))))
            .order_by("closed_at", "pk")
            .values_list("pk", flat=True)
        )

    return _batches(
        pending,
        lambda ids: scrub.scrub_conversations(
            tenant_id=policy.tenant_id,
            conversation_ids=ids,
            reason=ErasedConversation.Reason.RETENTION,
            delete_messages=delete,
        ),
        deadline,
        batch,
    )


def _retention_attachments(policy: RetentionPolicy, now: dt.datetime, deadline: float, batch: int) -> int:
    from apps.messaging.models import Attachment

    cutoff = now - dt.timedelta(days=policy.attachments_days)

    def pending():
        return (
            Attachment.objects.filter(tenant_id=policy.tenant_id, created_at__lt=cutoff)
            .exclude(file="")
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    def work(ids):
        with transaction.atomic():
            scrub.scrub_attachments(Attachment.objects.filter(pk__in=ids))

    return _batches(pending, work, deadline, batch)


def _retention_exports(policy: RetentionPolicy, now: dt.datetime, deadline: float, batch: int) -> int:
    from apps.reports.models import ExportJob

    cutoff = now - dt.timedelta(days=policy.exports_days)

    def pending():
        return (
            ExportJob.objects.filter(tenant_id=policy.tenant_id, created_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    def work(ids):
        rows = list(ExportJob.objects.filter(pk__in=ids))
        scrub._delete_files(rows, "file", "transcript_file")
        ExportJob.objects.filter(pk__in=ids).delete()

    return _batches(pending, work, deadline, batch)


def _retention_visitor_trails(policy: RetentionPolicy, now: dt.datetime, deadline: float, batch: int) -> int:
    from apps.privacy import trails

    before = now - dt.timedelta(days=policy.visitor_trails_days)
    return trails.expire(tenant_id=policy.tenant_id, before=before, deadline=deadline, batch=batch)


def _expire_access_files(now: dt.datetime) -> int:
    rows = list(PersonalDataRequest.objects.filter(expires_at__lt=now).exclude(file=""))
    scrub._delete_files(rows, "file")
    PersonalDataRequest.objects.filter(pk__in=[r.pk for r in rows]).update(file="")
    return len(rows)


def retention_run(*, now: dt.datetime | None = None, batch: int = BATCH, budget_seconds: float = 60.0) -> dict:
    """Apply every tenant's retention policy. Safe to run twice: what is done is marked (erased
    conversations) or gone (files, export rows), so a second run finds nothing to do. Bounded by
    `budget_seconds`; what is left waits for the next run."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget_seconds
    totals = {"conversations": 0, "attachments": 0, "exports": 0, "visitor_trails": 0, "access_files": 0}
    totals["access_files"] = _expire_access_files(now)
    steps = (
        ("conversations", "messages_days", _retention_messages),
        ("attachments", "attachments_days", _retention_attachments),
        ("exports", "exports_days", _retention_exports),
        ("visitor_trails", "visitor_trails_days", _retention_visitor_trails),
    )
    for policy in RetentionPolicy.objects.order_by("tenant_id"):
        for key, days_field, step in steps:
            if getattr(policy, days_field) and time.monotonic() < deadline:
                totals[key] += step(policy, now, deadline, batch)
    if any(totals.values()):
        log.info("retention: %s", totals)
    return totals


# --- personal-information requests -----------------------------------------------------------------


def _customer_for_admin(*, actor, customer_id: int):
    from apps.customers.models import Customer

    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise NotFound()
    customer = Customer.objects.visible_to(actor).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    _require_admin(actor, customer.tenant_id)
    return customer


def privacy_request_create(*, actor, customer_id: int, kind: str) -> PersonalDataRequest:
    if kind not in RequestKind.values:
        raise ApplicationError("invalid", _("Choose access or erasure."), extra={"fields": {"kind": kind}})
    customer = _customer_for_admin(actor=actor, customer_id=customer_id)
    if customer.erased_at is not None:
        raise ApplicationError("customer_erased", _("This customer's information has already been erased."), status=409)
    with transaction.atomic():
        request = PersonalDataRequest.objects.create(
            tenant_id=customer.tenant_id, customer=customer, kind=kind, requested_by=actor
        )
        audit_record(
            actor=actor,
            action=f"privacy.{kind}_request",
            obj=request,
            changes={"customer_id": customer.pk},
        )
        transaction.on_commit(lambda: _enqueue(request.pk))
    return request


def _enqueue(request_id: int) -> None:
    from apps.privacy.tasks import privacy_request_run_task

    privacy_request_run_task.delay(request_id)


def privacy_request_run(*, request_id: int) -> PersonalDataRequest:
    """Carry out a request. Safe to run twice: a finished request is returned as it is, and an
    erasure interrupted half-way is simply done again (every step is idempotent)."""
    with transaction.atomic():
        request = PersonalDataRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise NotFound()
        if request.status == RequestStatus.DONE:
            return request
        request.status = RequestStatus.RUNNING
        request.save(update_fields=["status"])
    try:
        if request.kind == RequestKind.ACCESS:
            from apps.privacy.dataexport import customer_data_file

            name, counts = customer_data_file(request=request)
            request.file.name = name
            request.expires_at = timezone.now() + access_file_ttl()
        else:
            counts = customer_erase(tenant_id=request.tenant_id, customer_id=request.customer_id)
    except Exception as exc:  # recorded for the admin; the task's retry runs it again
        PersonalDataRequest.objects.filter(pk=request.pk).update(status=RequestStatus.FAILED, error=str(exc)[:200])
        raise
    request.status = RequestStatus.DONE
    request.counts = counts
    request.finished_at = timezone.now()
    request.error = ""
    request.save(update_fields=["status", "counts", "finished_at", "error", "file", "expires_at"])
    audit_record(actor=None, action=f"privacy.{request.kind}_done", obj=request, changes=counts)
    return request


def _personal_strings(customer) -> list[str]:
    """The customer's own words for searching copies (audit entries, export filters)."""
    values = [customer.display_name, customer.phone, customer.email]
    values += list(customer.identities.values_list("value", flat=True))
    for blob in (customer.attributes, customer.captured):
        if isinstance(blob, dict):
            values += [v for v in blob.values() if isinstance(v, str)]
    return sorted({v.strip() for v in values if v and len(v.strip()) >= 2})


def _text_q(field: str, strings: list[str]) -> Q:
    q = Q(pk__in=[])
    for s in strings:
        q |= Q(**{f"{field}__icontains": s})
        escaped = json.dumps(s)[1:-1]  # JSON columns may hold "\u5f20\u4e09"
        if escaped != s:
            q |= Q(**{f"{field}__icontains": escaped})
    return q


def customer_erase(*, tenant_id: int, customer_id: int, batch: int = BATCH) -> dict:
    """Erase one customer everywhere; conversations and events stay (anonymous) for the counts."""
    from apps.conversations.models import Conversation
    from apps.core.models import AuditEntry
    from apps.customers.models import Customer, CustomerIdentity, CustomerMerge
    from apps.knowledge.models import CapturedSlot
    from apps.reports.models import (
        ExportJob,
        FollowUpTask,
        TrackingNotification,
        TrackingSubscription,
    )
    from apps.routing.models import LeaveMessage

    customer = Customer.objects.get(pk=customer_id, tenant_id=tenant_id)
    strings = _personal_strings(customer)
    conv_ids = list(Conversation.objects.filter(customer_id=customer_id).order_by("pk").values_list("pk", flat=True))
    for i in range(0, len(conv_ids), batch):
        scrub.scrub_conversations(
            tenant_id=tenant_id,
            conversation_ids=conv_ids[i : i + batch],
            reason=ErasedConversation.Reason.REQUEST,
            delete_messages=False,
        )
    from apps.privacy import trails

    with transaction.atomic():
        LeaveMessage.objects.filter(customer_id=customer_id).update(name="", contact="", content="")
        CapturedSlot.objects.filter(customer_id=customer_id).delete()
        FollowUpTask.objects.filter(customer_id=customer_id).exclude(result="").update(result="")
        TrackingNotification.objects.filter(customer_id=customer_id).delete()
        TrackingSubscription.objects.filter(customer_id=customer_id).delete()
        merges = CustomerMerge.objects.filter(tenant_id=tenant_id).annotate(
            snapshot_text=Cast("source_snapshot", TextField())
        )
        merges.filter(Q(target_id=customer_id) | _text_q("snapshot_text", strings)).update(source_snapshot={})
        trails_erased = trails.erase_customer(tenant_id=tenant_id, customer_id=customer_id)
        identities = CustomerIdentity.objects.filter(customer_id=customer_id).delete()[0]
        Customer.objects.filter(pk=customer_id).update(
            display_name="",
            phone="",
            email="",
            attributes={},
            captured={},
            last_seen_at=None,
            erased_at=timezone.now(),
        )
        from django.contrib.admin.models import LogEntry

        LogEntry.objects.filter(user__tenant_id=tenant_id).filter(
            _text_q("object_repr", strings) | _text_q("change_message", strings)
        ).update(object_repr="", change_message="")
        # The log keeps who did what and when (views of this customer included), not the words.
        audits = (
            AuditEntry.objects.filter(tenant_id=tenant_id)
            .annotate(changes_text=Cast("changes", TextField()))
            .filter(_text_q("object_repr", strings) | _text_q("changes_text", strings))
            .update(object_repr="", changes={})
        )
        # Exports made since the customer first wrote may hold their conversations: their files
        # go (exports are short-lived; the job row stays, marked); filters naming them are cleared.
        since = customer.created_at
        exports = list(ExportJob.objects.filter(tenant_id=tenant_id, created_at__gte=since).exclude(file=""))
        scrub._delete_files(exports, "file", "transcript_file")
        ExportJob.objects.filter(pk__in=[e.pk for e in exports]).update(
            file="", transcript_file="", error="erased: personal-information request"
        )
        ExportJob.objects.filter(tenant_id=tenant_id).annotate(filters_text=Cast("filters", TextField())).filter(
            _text_q("filters_text", strings)
        ).update(filters={})
        earlier = list(PersonalDataRequest.objects.filter(customer_id=customer_id).exclude(file=""))
        scrub._delete_files(earlier, "file")
        PersonalDataRequest.objects.filter(pk__in=[r.pk for r in earlier]).update(file="")
    return {
        "conversations": len(conv_ids),
        "identities": identities,
        "audit_entries": audits,
        "exports": len(exports),
        "visitor_trails": trails_erased,
    }


def privacy_request_open_download(*, actor, request_id: int) -> PersonalDataRequest:
    request = PersonalDataRequest.objects.visible_to(actor).filter(pk=request_id).first()
    if request is None:
        raise NotFound()
    _require_admin(actor, request.tenant_id)
    if request.kind != RequestKind.ACCESS or request.status != RequestStatus.DONE or not request.file:
        raise ApplicationError("not_ready", _("This file is not ready or has expired."), status=409)
    if request.expires_at and request.expires_at < timezone.now():
        raise ApplicationError("expired", _("This download link has expired."), status=410)
    audit_record(
        actor=actor, action="privacy.access_download", obj=request, changes={"customer_id": request.customer_id}
    )
    return request


# --- who viewed a customer's data -------------------------------------------------------------------


def customer_view_record(*, actor, customer_id: int, where: str) -> bool:
    """Audit that staff opened a customer's personal information (panel, customer centre,
    access file). One entry per person, customer and place every ten minutes: the log answers
    "who looked" without one row per page refresh."""
    if actor is None or not getattr(actor, "pk", None) or not customer_id:
        return False
    key = f"privacy:viewed:{actor.pk}:{customer_id}:{where}"
    if not cache.add(key, 1, VIEW_AUDIT_SECONDS):
        return False
    audit_record(
        actor=actor,
        action="customer.view",
        tenant=actor.tenant if actor.tenant_id else None,
        object_type="customers.Customer",
        object_repr=f"#{customer_id}",
        object_id=str(customer_id),
        changes={"where": where},
    )
    return True
