"""Writes of the supervisor centre: KPI targets, follow-ups (F43), tracking (F59).

Interventions live in apps.conversations.interventions, customer merge/split in apps.customers.services, exports in apps.reports.exports,
rollups in apps.reports.rollups.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import Branch, Role, User
from apps.conversations.models import ConversationEvent, Rating
from apps.core.errors import ApplicationError, NotFound, PermissionDenied
from apps.core.services import audit_record
from apps.reports.models import (
    FollowUpOutcome,
    FollowUpSource,
    FollowUpStatus,
    FollowUpTask,
    KpiTarget,
    RollupCursor,
    TrackingNotification,
    TrackingSubscription,
)

# --- KPI targets ------------------------------------------------------------------------------


@transaction.atomic
def kpi_target_set(*, actor, branch_id: int, metric: str, target: float) -> KpiTarget:
    if not (actor.is_super_admin or actor.is_platform_operator):
        raise PermissionDenied(_("Only a super admin sets KPI targets."))
    from apps.reports.models import KpiMetric

    if metric not in KpiMetric.values:
        raise ApplicationError("invalid_metric", _("Unknown KPI."))
    branch = Branch.objects.visible_to(actor).filter(pk=branch_id).first()
    if branch is None:
        raise NotFound(_("Branch not found."))
    obj, _created = KpiTarget.objects.update_or_create(
        branch=branch, metric=metric, defaults={"tenant_id": branch.tenant_id, "target": float(target)}
    )
    audit_record(actor=actor, action="kpi.set", obj=obj, changes={"metric": metric, "target": target})
    return obj


# --- follow-ups (F43) -------------------------------------------------------------------------

DISSATISFIED_MAX_SCORE = 2


def _supervisor_for(branch: Branch | None, tenant_id: int) -> User | None:
    paths = list(reversed(branch.ancestor_paths)) if branch else []
    for path in paths:
        sup = (
            User.objects.filter(tenant_id=tenant_id, role=Role.SUPERVISOR, branch__path=path, is_active=True)
            .order_by("id")
            .first()
        )
        if sup:
            return sup
    return User.objects.filter(tenant_id=tenant_id, role=Role.SUPER_ADMIN, is_active=True).order_by("id").first()


def followup_create_for_rating(*, rating_id: int) -> FollowUpTask | None:
    """A dissatisfied rating (1-2 stars) becomes one follow-up task (safe to call twice)."""
    rating = Rating.objects.select_related("conversation", "conversation__branch").filter(pk=rating_id).first()
    if rating is None or rating.score > getattr(settings, "REPORTS_DISSATISFIED_MAX_SCORE", DISSATISFIED_MAX_SCORE):
        return None
    conv = rating.conversation
    hours = getattr(settings, "REPORTS_FOLLOWUP_DUE_HOURS", 24)
    task, created = FollowUpTask.objects.get_or_create(
        rating=rating,
        defaults={
            "tenant_id": rating.tenant_id,
            "conversation": conv,
            "customer_id": conv.customer_id,
            "branch": conv.branch,
            "assignee": _supervisor_for(conv.branch, conv.tenant_id),
            "due_at": rating.created_at + timedelta(hours=hours),
        },
    )
    if created:
        tracking_notify(
            customer_id=conv.customer_id,
            tenant_id=conv.tenant_id,
            conversation_id=conv.pk,
            step="follow_up_created",
            source=f"followup:{task.pk}:created",
            text=_("Dissatisfied rating (%(score)d): follow-up task created") % {"score": rating.score},
        )
    return task


def followup_create_for_leave_message(*, leave_message_id: int) -> FollowUpTask | None:
    """A left message becomes one follow-up task (safe to call twice): owned by the agent who last
    served the customer on that conversation, else by the channel branch's supervisor."""
    from apps.routing.models import LeaveMessage

    lm = (
        LeaveMessage.objects.select_related("channel", "channel__branch", "conversation")
        .filter(pk=leave_message_id)
        .first()
    )
    if lm is None:
        return None
    conv = lm.conversation
    branch = (conv.branch if conv is not None and conv.branch_id else None) or (
        lm.channel.branch if lm.channel else None
    )
    owner = None
    if conv is not None and conv.assignee_id:
        owner = User.objects.filter(pk=conv.assignee_id, is_active=True).first()
    owner = owner or _supervisor_for(branch, lm.tenant_id)
    hours = getattr(settings, "REPORTS_FOLLOWUP_DUE_HOURS", 24)
    task, _created = FollowUpTask.objects.get_or_create(
        leave_message=lm,
        defaults={
            "tenant_id": lm.tenant_id,
            "source": FollowUpSource.LEAVE_MESSAGE,
            "conversation": conv,
            "customer_id": lm.customer_id,
            "branch": branch,
            "assignee": owner,
            "due_at": lm.created_at + timedelta(hours=hours),
        },
    )
    return task


FOLLOWUP_MAX_AHEAD = timedelta(days=90)
FOLLOWUP_NOTE_MAX = 1000


def followup_create(*, actor, conversation_id: int, due_at, note: str = "", now=None) -> FollowUpTask:
    """A follow-up task staff write themselves from a conversation they can see (the workbench):
    owned by the author, due at the time they chose."""
    from apps.messaging.selectors import conversation_get_for_agent

    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise ApplicationError("note_required", _("Write down what to follow up."))
    if len(note) > FOLLOWUP_NOTE_MAX:
        raise ApplicationError("note_too_long", _("The note is too long."))
    if due_at is None or not (now < due_at <= now + FOLLOWUP_MAX_AHEAD):
        raise ApplicationError("invalid_due_at", _("Choose a due time in the next 90 days."))
    conv = conversation_get_for_agent(user=actor, conversation_id=conversation_id)
    with transaction.atomic():
        task = FollowUpTask.objects.create(
            tenant_id=conv.tenant_id,
            source=FollowUpSource.MANUAL,
            conversation=conv,
            customer_id=conv.customer_id,
            branch_id=conv.branch_id,
            assignee=actor,
            created_by=actor,
            due_at=due_at,
            note=note,
        )
        audit_record(actor=actor, action="followup.create", obj=task, changes={"conversation": conv.pk})
    return task


def _followup_for_actor(actor, task_id: int) -> FollowUpTask:
    """Managers: their subtree's tasks. Agents: only the tasks they own."""
    qs = FollowUpTask.objects.visible_to(actor).select_for_update()
    if not (actor.is_authenticated and actor.is_manager):
        qs = qs.filter(assignee_id=getattr(actor, "pk", None))
    task = qs.filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("Follow-up task not found."))
    return task


@transaction.atomic
def followup_update(
    *,
    actor,
    task_id: int,
    result: str | None = None,
    outcome: str | None = None,
    assignee_id: int | None = None,
    due_at=None,
    done: bool | None = None,
) -> FollowUpTask:
    task = _followup_for_actor(actor, task_id)
    if (assignee_id is not None or due_at is not None) and not actor.is_manager:
        raise ApplicationError(
            "permission_denied", _("Only a supervisor can change the owner or the due time."), status=403
        )
    changes = {}
    if outcome is not None:
        if outcome not in FollowUpOutcome.values:
            raise ApplicationError("invalid_outcome", _("Choose an outcome from the list."))
        task.outcome = outcome
        changes["outcome"] = outcome
    if assignee_id is not None:
        assignee = User.objects.visible_to(actor).filter(pk=assignee_id, is_active=True).first()
        if assignee is None:
            raise NotFound(_("User not found."))
        task.assignee = assignee
        changes["assignee"] = assignee.pk
    if result is not None:
        if len(result) > 2000:
            raise ApplicationError("result_too_long", _("The result is too long."))
        task.result = result
        changes["result"] = result
    if due_at is not None:
        task.due_at = due_at
        changes["due_at"] = due_at.isoformat()
    if done is not None:
        if done and not (task.result.strip() and task.outcome):
            raise ApplicationError(
                "result_required", _("Choose the outcome and write down the result before closing the task.")
            )
        task.status = FollowUpStatus.DONE if done else FollowUpStatus.OPEN
        task.closed_at = timezone.now() if done else None
        changes["status"] = task.status
    task.save()
    audit_record(actor=actor, action="followup.update", obj=task, changes=changes)
    if done and task.customer_id is not None:
        tracking_notify(
            customer_id=task.customer_id,
            tenant_id=task.tenant_id,
            conversation_id=task.conversation_id,
            step="followed_up",
            source=f"followup:{task.pk}:done",
            text=_("Followed up: %(result)s") % {"result": task.result[:200]},
        )
    return task


# --- tracking (F59) ---------------------------------------------------------------------------

TRACKED_STEPS = {
    "assigned": "assigned",
    "transfer_accepted": "transferred",
    "closed": "closed",
    "requeued": "requeued",
}


@transaction.atomic
def tracking_subscribe(
    *, actor, customer_id: int, webhook_url: str = "", on: bool = True
) -> TrackingSubscription | None:
    from apps.customers.models import Customer

    customer = Customer.objects.visible_to(actor).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    if webhook_url:
        from apps.outbound.guard import validate_url

        webhook_url = validate_url(webhook_url)
    if not on:
        TrackingSubscription.objects.filter(customer=customer, user=actor).delete()
        return None
    sub, _created = TrackingSubscription.objects.update_or_create(
        customer=customer, user=actor, defaults={"tenant_id": customer.tenant_id, "webhook_url": webhook_url}
    )
    return sub


def tracking_notify(
    *, tenant_id: int, customer_id: int, conversation_id: int | None, step: str, source: str, text: str
) -> int:
    """In-app notification for every subscriber (once per source), plus their webhook after commit."""
    n = 0
    for sub in TrackingSubscription.objects.filter(tenant_id=tenant_id, customer_id=customer_id):
        _obj, created = TrackingNotification.objects.get_or_create(
            user_id=sub.user_id,
            source=source,
            defaults={
                "tenant_id": tenant_id,
                "customer_id": customer_id,
                "conversation_id": conversation_id,
                "step": step,
                "text": text[:300],
            },
        )
        if created:
            n += 1
            if sub.webhook_url:
                from apps.reports.tracking import tracking_webhook_enqueue

                tracking_webhook_enqueue(notification_id=_obj.pk)
    return n


def tracking_scan_events(*, batch: int = 2000) -> int:
    """Turn new lifecycle events of tracked customers into notifications; and new low ratings
    into follow-up tasks. Cursor-based, so each row is handled once even across restarts."""
    cur, _created = RollupCursor.objects.get_or_create(source="tracking-event")
    events = list(
        ConversationEvent.objects.filter(id__gt=cur.last_id)
        .select_related("conversation", "agent")
        .order_by("id")[:batch]
    )
    tracked = set(
        TrackingSubscription.objects.filter(customer_id__in={e.conversation.customer_id for e in events}).values_list(
            "customer_id", flat=True
        )
    )
    n = 0
    for ev in events:
        step = TRACKED_STEPS.get(ev.kind)
        if step and ev.conversation.customer_id in tracked:
            who = ev.agent.name if ev.agent_id and ev.agent else ""
            text = {
                "assigned": _("Assigned to %(agent)s") % {"agent": who},
                "transferred": _("Transferred to %(agent)s") % {"agent": who},
                "closed": _("Conversation closed"),
                "requeued": _("Back in the queue"),
            }[step]
            n += tracking_notify(
                tenant_id=ev.tenant_id,
                customer_id=ev.conversation.customer_id,
                conversation_id=ev.conversation_id,
                step=step,
                source=f"event:{ev.pk}",
                text=f"#{ev.conversation_id} {text}",
            )
    if events:
        RollupCursor.objects.filter(pk=cur.pk).update(last_id=events[-1].id)
    rcur, _created = RollupCursor.objects.get_or_create(source="followup-rating")
    ratings = list(Rating.objects.filter(id__gt=rcur.last_id).order_by("id").values_list("id", flat=True)[:batch])
    for rid in ratings:
        followup_create_for_rating(rating_id=rid)
    if ratings:
        RollupCursor.objects.filter(pk=rcur.pk).update(last_id=ratings[-1])
    from apps.routing.models import LeaveMessage

    lcur, _created = RollupCursor.objects.get_or_create(source="followup-leave-message")
    left = list(LeaveMessage.objects.filter(id__gt=lcur.last_id).order_by("id").values_list("id", flat=True)[:batch])
    for lid in left:
        followup_create_for_leave_message(leave_message_id=lid)
    if left:
        RollupCursor.objects.filter(pk=lcur.pk).update(last_id=left[-1])
    return n
