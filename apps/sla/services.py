"""Service levels: starting clocks, recording breaches, changing policies."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import Conversation, ConversationStatus
from apps.core.errors import ApplicationError
from apps.core.services import audit_record
from apps.reports.metrics import sla_outcomes
from apps.sla.models import BreachKind, CustomerTier, SlaBreach, SlaClock, SlaPolicy

log = logging.getLogger(__name__)

HUMAN_STATUSES = (ConversationStatus.QUEUED, ConversationStatus.ACTIVE, ConversationStatus.TRANSFER_PENDING)
_policy_memo: dict[int, tuple[float, list[SlaPolicy]]] = {}
POLICY_MEMO_SECONDS = 10.0


def policies_for(tenant_id: int, *, fresh: bool = False) -> list[SlaPolicy]:
    """The tenant's enabled policies in order, remembered in this process for ten seconds (read
    for every conversation that reaches people; changed a few times a year)."""
    now = time.monotonic()
    hit = _policy_memo.get(tenant_id)
    if hit is not None and not fresh and now - hit[0] < POLICY_MEMO_SECONDS:
        return hit[1]
    rows = list(SlaPolicy.objects.filter(tenant_id=tenant_id, is_enabled=True).order_by("order", "id"))
    _policy_memo[tenant_id] = (now, rows)
    return rows


def policies_forget(tenant_id: int | None = None) -> None:
    if tenant_id is None:
        _policy_memo.clear()
    else:
        _policy_memo.pop(tenant_id, None)


def policy_match(*, conversation: Conversation, is_vip: bool) -> SlaPolicy | None:
    for policy in policies_for(conversation.tenant_id):
        if policy.channel_id and policy.channel_id != conversation.channel_id:
            continue
        if policy.min_priority is not None and conversation.priority < policy.min_priority:
            continue
        if policy.customer_tier == CustomerTier.VIP and not is_vip:
            continue
        if policy.customer_tier == CustomerTier.REGULAR and is_vip:
            continue
        return policy
    return None


def _instants(*, conversation: Conversation, start: dt.datetime, seconds: int | None, warning_percent: int):
    from apps.routing.selectors import working_deadline

    if not seconds:
        return None, None
    due = working_deadline(tenant=conversation.tenant, branch=conversation.branch, start=start, seconds=seconds)
    warn = working_deadline(
        tenant=conversation.tenant,
        branch=conversation.branch,
        start=start,
        seconds=seconds * max(0, 100 - warning_percent) / 100,
    )
    return warn, due


def sla_clock_start(*, conversation_id: int) -> SlaClock | None:
    """Start the conversation's clock when it has reached people; safe to call twice (the first
    clock stays: a transfer or a requeue does not restart the customer's wait)."""
    existing = SlaClock.objects.filter(conversation_id=conversation_id).first()
    if existing is not None:
        return existing
    conversation = (
        Conversation.objects.select_related("tenant", "branch", "customer").filter(pk=conversation_id).first()
    )
    if conversation is None or conversation.status not in (*HUMAN_STATUSES, ConversationStatus.CLOSED):
        return None
    if conversation.status == ConversationStatus.CLOSED and not conversation.assigned_at:
        return None  # never reached a person (left the queue or the bot closed it)
    policy = policy_match(conversation=conversation, is_vip=conversation.customer.is_vip)
    if policy is None:
        return None
    start = conversation.queued_at or conversation.assigned_at or conversation.created_at
    frt_warn, frt_due = _instants(
        conversation=conversation,
        start=start,
        seconds=policy.first_response_seconds,
        warning_percent=policy.warning_percent,
    )
    res_warn, res_due = _instants(
        conversation=conversation,
        start=start,
        seconds=policy.resolution_seconds,
        warning_percent=policy.warning_percent,
    )
    try:
        with transaction.atomic():
            return SlaClock.objects.create(
                tenant_id=conversation.tenant_id,
                conversation=conversation,
                policy=policy,
                branch_id=conversation.branch_id or 0,
                channel_id=conversation.channel_id,
                started_at=start,
                first_response_warn_at=frt_warn,
                first_response_due=frt_due,
                resolution_warn_at=res_warn,
                resolution_due=res_due,
            )
    except IntegrityError:  # a concurrent run started it
        return SlaClock.objects.filter(conversation_id=conversation_id).first()


def _start_missing(limit: int) -> int:
    tenants = list(SlaPolicy.objects.filter(is_enabled=True).values_list("tenant_id", flat=True).distinct())
    if not tenants:
        return 0
    ids = list(
        Conversation.objects.filter(tenant_id__in=tenants, status__in=HUMAN_STATUSES)
        .exclude(Exists(SlaClock.objects.filter(conversation_id=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in ids if sla_clock_start(conversation_id=pk) is not None)


def _record_breach(clock: SlaClock, kind: str, due: dt.datetime, now: dt.datetime) -> SlaBreach | None:
    """One row per conversation and target (the unique key), with the flag on the clock."""
    conv = clock.conversation
    flag = "first_response_breached" if kind == BreachKind.FIRST_RESPONSE else "resolution_breached"
    with transaction.atomic():
        if not SlaClock.objects.filter(pk=clock.pk, **{flag: False}).update(**{flag: True}):
            return None  # another run recorded it
        breach, created = SlaBreach.objects.get_or_create(
            conversation_id=conv.pk,
            kind=kind,
            defaults={
                "tenant_id": clock.tenant_id,
                "policy_id": clock.policy_id,
                "due_at": due,
                "breached_at": now,
                "agent_id": conv.assignee_id,
                "branch_id": conv.branch_id,
            },
        )
        if created:
            from apps.sla import notify

            notify.breach_recorded(breach=breach, conversation=conv)
    return breach if created else None


def sla_check(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Start clocks a lost task missed, copy met times from conversations, record breaches."""
    now = now or timezone.now()
    started = _start_missing(limit)
    # Met times: copied once from the conversation (the figures read the clock alone).
    for field, conv_field in (("first_response_at", "first_response_at"), ("resolved_at", "closed_at")):
        rows = SlaClock.objects.filter(**{f"{field}__isnull": True, f"conversation__{conv_field}__isnull": False})
        for pk, at in rows.values_list("pk", f"conversation__{conv_field}")[:limit]:
            SlaClock.objects.filter(pk=pk, **{f"{field}__isnull": True}).update(**{field: at})
    breaches = 0
    specs = (
        (
            BreachKind.FIRST_RESPONSE,
            "first_response_due",
            "first_response_breached",
            "first_response_at",
            "first_response_at",
        ),
        (BreachKind.RESOLUTION, "resolution_due", "resolution_breached", "resolved_at", "closed_at"),
    )
    for kind, due_field, flag, met_field, conv_field in specs:
        # Candidates (met in time excluded, so the set stays small); each is then decided below.
        met = Coalesce(met_field, f"conversation__{conv_field}")
        qs = (
            SlaClock.objects.filter(**{flag: False, f"{due_field}__lte": now})
            .annotate(met=met)
            .filter(Q(met__isnull=True) | Q(met__gt=F(due_field)))
        )
        if kind == BreachKind.FIRST_RESPONSE:
            # Closed before the due time without a reply: the customer left, nothing was breached.
            closed = Coalesce("resolved_at", "conversation__closed_at")
            qs = qs.annotate(closed=closed).filter(
                Q(met__isnull=False) | Q(closed__isnull=True) | Q(closed__gte=F(due_field))
            )
        else:
            qs = qs.filter(resolution_paused_at__isnull=True)
        for clock in qs.select_related("conversation").order_by(due_field)[:limit]:
            # Decided by the figures' own definition (apps.reports.metrics.sla_outcomes).
            conv = clock.conversation
            outcomes = sla_outcomes(
                clock=clock,
                first_response_at=clock.first_response_at or conv.first_response_at,
                resolved_at=clock.resolved_at or conv.closed_at,
                now=now,
            )
            if any(o.target == kind and not o.met for o in outcomes):
                if _record_breach(clock, kind, getattr(clock, due_field), now) is not None:
                    breaches += 1
    return {"started": started, "breaches": breaches}


POLICY_FIELDS = (
    "name",
    "is_enabled",
    "order",
    "channel",
    "min_priority",
    "customer_tier",
    "first_response_seconds",
    "resolution_seconds",
    "warning_percent",
)


def _clean_policy(tenant_id: int, data: dict[str, Any]) -> dict[str, Any]:
    from apps.channels.models import Channel

    clean = {k: v for k, v in data.items() if k in POLICY_FIELDS}
    if "name" in clean and not str(clean["name"]).strip():
        raise ApplicationError("invalid", _("Give the policy a name."), extra={"fields": {"name": ""}})
    channel = clean.get("channel")
    if channel is not None:
        channel_id = getattr(channel, "pk", channel)
        if not Channel.objects.filter(pk=channel_id, tenant_id=tenant_id).exists():
            raise ApplicationError("not_found", _("Channel not found."), status=404)
        clean["channel_id"] = channel_id
        del clean["channel"]
    frt = clean.get("first_response_seconds")
    res = clean.get("resolution_seconds")
    if frt is not None and res and res < frt:
        raise ApplicationError(
            "invalid",
            _("The resolution target cannot be shorter than the first-response target."),
            extra={"fields": {"resolution_seconds": res}},
        )
    if "warning_percent" in clean and not 0 <= int(clean["warning_percent"]) <= 100:
        raise ApplicationError("invalid", _("Warning must be between 0 and 100 %."))
    return clean


def sla_policy_save(*, actor, tenant_id: int, policy: SlaPolicy | None = None, **data: Any) -> SlaPolicy:
    """Create or change a policy (validated, audited). Clocks already started keep their times."""
    clean = _clean_policy(tenant_id, data)
    with transaction.atomic():
        if policy is None:
            policy = SlaPolicy.objects.create(tenant_id=tenant_id, **clean)
            audit_record(actor=actor, action="sla.policy_create", obj=policy, changes={"name": policy.name})
        else:
            diff = {k: [str(getattr(policy, k)), str(v)] for k, v in clean.items() if getattr(policy, k) != v}
            for k, v in clean.items():
                setattr(policy, k, v)
            policy.save()
            audit_record(actor=actor, action="sla.policy_update", obj=policy, changes=diff)
        transaction.on_commit(lambda: policies_forget(tenant_id))
    return policy


def sla_resolution_pause(*, conversation_id: int, at: dt.datetime) -> SlaClock | None:
    """Waiting for the customer stops the resolution clock: the working time left is kept and the
    due instant stays the one before the pause (still ahead) until it resumes. A target already
    due, met or breached is not paused. Runs inside the waiting transaction."""
    from apps.routing.selectors import working_seconds_between

    clock = (
        SlaClock.objects.select_for_update()
        .select_related("conversation__tenant", "conversation__branch")
        .filter(
            conversation_id=conversation_id,
            resolution_due__gt=at,
            resolution_paused_at__isnull=True,
            resolved_at__isnull=True,
            resolution_breached=False,
        )
        .first()
    )
    if clock is None or clock.resolution_due is None:
        return None
    conv = clock.conversation
    clock.resolution_left_s = working_seconds_between(
        tenant=conv.tenant, branch=conv.branch, start=at, end=clock.resolution_due
    )
    clock.resolution_paused_at = at
    clock.save(update_fields=["resolution_left_s", "resolution_paused_at"])
    return clock


def sla_resolution_resume(*, conversation_id: int, at: dt.datetime) -> SlaClock | None:
    """The clock runs again from `at` with the working time it had left; the amber instant keeps
    the same working-time distance before the due instant as when the clock started."""
    from apps.routing.selectors import working_deadline, working_seconds_between

    clock = (
        SlaClock.objects.select_for_update()
        .select_related("conversation__tenant", "conversation__branch")
        .filter(conversation_id=conversation_id, resolution_paused_at__isnull=False)
        .first()
    )
    if clock is None:
        return None
    conv = clock.conversation
    left = clock.resolution_left_s or 0.0
    gap = 0.0
    if clock.resolution_warn_at is not None and clock.resolution_due is not None:
        gap = working_seconds_between(
            tenant=conv.tenant, branch=conv.branch, start=clock.resolution_warn_at, end=clock.resolution_due
        )
    due = working_deadline(tenant=conv.tenant, branch=conv.branch, start=at, seconds=left)
    warn = working_deadline(tenant=conv.tenant, branch=conv.branch, start=at, seconds=max(0.0, left - gap))
    clock.resolution_due, clock.resolution_warn_at = due, warn
    clock.resolution_paused_at, clock.resolution_left_s = None, None
    clock.save(update_fields=["resolution_due", "resolution_warn_at", "resolution_paused_at", "resolution_left_s"])
    return clock
