"""Customer centre (F39): one profile across channels, manual merge and split.

Operates on apps.customers models through their public fields only. A merge moves the source's
identities and conversations to the target and leaves the source row as an empty shell
(attributes["merged_into"]) instead of deleting it, because other domains point at customers and
a delete would cascade into their data; the merge is recorded (CustomerMerge) so a split moves
exactly those rows back.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.models import OPEN_STATUSES, Conversation
from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record
from apps.customers.models import Customer, CustomerIdentity, IdentityKind
from apps.reports.models import CustomerMerge, FollowUpTask
from apps.reports.selectors import require_manager

PROFILE_FIELDS = ("display_name", "phone", "email")


def customer_get_for_actor(*, actor, customer_id: int, lock: bool = False) -> Customer:
    require_manager(actor)
    qs = Customer.objects.visible_to(actor)
    if lock:
        qs = qs.select_for_update()
    c = qs.filter(pk=customer_id).first()
    if c is None or c.attributes.get("merged_into"):
        raise NotFound(_("Customer not found."))
    return c


def _move_conversations(conv_ids: list[int], to_customer_id: int) -> None:
    for conv in Conversation.objects.select_for_update().filter(pk__in=conv_ids):
        conv.customer_id = to_customer_id
        if conv.status in OPEN_STATUSES:
            key = Conversation.make_open_key(conv.channel_id, to_customer_id)
            if Conversation.objects.filter(open_key=key).exclude(pk=conv.pk).exists():
                raise ApplicationError(
                    "open_conversation_conflict",
                    _("Both customers have an open conversation on the same channel; close one first."),
                    status=409,
                )
            conv.open_key = key
        conv.save(update_fields=["customer", "open_key"])


@transaction.atomic
def customer_merge(*, actor, target_id: int, source_id: int) -> CustomerMerge:
    if target_id == source_id:
        raise ApplicationError("same_customer", _("Choose two different customers."))
    # Lock both in id order so two merges of the same pair cannot deadlock.
    first, second = sorted([target_id, source_id])
    a = customer_get_for_actor(actor=actor, customer_id=first, lock=True)
    b = customer_get_for_actor(actor=actor, customer_id=second, lock=True)
    target, source = (a, b) if a.pk == target_id else (b, a)
    identity_ids = list(CustomerIdentity.objects.filter(customer=source).values_list("pk", flat=True))
    conv_ids = list(Conversation.objects.filter(customer=source).values_list("pk", flat=True))
    filled = {}
    for f in PROFILE_FIELDS:
        if not getattr(target, f) and getattr(source, f):
            filled[f] = getattr(source, f)
            setattr(target, f, getattr(source, f))
    snapshot = {f: getattr(source, f) for f in PROFILE_FIELDS} | {"filled": filled, "is_vip": source.is_vip}
    _move_conversations(conv_ids, target.pk)
    CustomerIdentity.objects.filter(pk__in=identity_ids).update(customer=target)
    FollowUpTask.objects.filter(customer=source).update(customer=target)
    if source.is_vip and not target.is_vip:
        target.is_vip = True
    target.save()
    source.attributes = {**source.attributes, "merged_into": target.pk}
    source.save(update_fields=["attributes"])
    merge = CustomerMerge.objects.create(
        tenant_id=target.tenant_id,
        target=target,
        source_snapshot={**snapshot, "source_id": source.pk},
        identity_ids=identity_ids,
        conversation_ids=conv_ids,
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="customer.merge",
        obj=target,
        changes={"source": source.pk, "identities": identity_ids, "conversations": conv_ids},
    )
    return merge


@transaction.atomic
def customer_split(*, actor, merge_id: int) -> Customer:
    """Undo a merge: the recorded identities and conversations go back to the source customer."""
    require_manager(actor)
    merge = CustomerMerge.objects.select_for_update().filter(pk=merge_id, tenant_id=actor.tenant_id).first()
    if merge is None:
        raise NotFound(_("Merge not found."))
    if merge.split_at is not None:
        raise ApplicationError("already_split", _("This merge has already been undone."), status=409)
    target = customer_get_for_actor(actor=actor, customer_id=merge.target_id, lock=True)
    source = (
        Customer.objects.select_for_update()
        .filter(pk=merge.source_snapshot.get("source_id"), tenant_id=target.tenant_id)
        .first()
    )
    if source is None:
        raise NotFound(_("Customer not found."))
    still_here = list(
        Conversation.objects.filter(pk__in=merge.conversation_ids, customer=target).values_list("pk", flat=True)
    )
    _move_conversations(still_here, source.pk)
    CustomerIdentity.objects.filter(pk__in=merge.identity_ids, customer=target).update(customer=source)
    for f, value in (merge.source_snapshot.get("filled") or {}).items():
        if getattr(target, f) == value:
            setattr(target, f, "")
    target.save()
    attrs = dict(source.attributes)
    attrs.pop("merged_into", None)
    source.attributes = attrs
    source.save(update_fields=["attributes"])
    merge.split_at = timezone.now()
    merge.save(update_fields=["split_at"])
    audit_record(actor=actor, action="customer.split", obj=target, changes={"merge": merge.pk, "source": source.pk})
    return source


def customer_duplicates(*, actor, customer: Customer) -> list[Customer]:
    """Other profiles that are probably the same person: same phone (field or phone identity)."""
    phones = {customer.phone} if customer.phone else set()
    phones |= set(customer.identities.filter(kind=IdentityKind.PHONE).values_list("value", flat=True))
    phones.discard("")
    if not phones:
        return []
    qs = (
        Customer.objects.visible_to(actor)
        .exclude(pk=customer.pk)
        .filter(Q(phone__in=phones) | Q(identities__kind=IdentityKind.PHONE, identities__value__in=phones))
        .distinct()
    )
    return [c for c in qs[:20] if not c.attributes.get("merged_into")]


def customer_profile(*, actor, customer_id: int) -> dict:
    customer = customer_get_for_actor(actor=actor, customer_id=customer_id)
    convs = list(
        Conversation.objects.visible_to(actor)
        .filter(customer=customer)
        .select_related("channel", "assignee", "branch", "rating")
        .order_by("-created_at")[:100]
    )
    visits = (
        Conversation.objects.visible_to(actor)
        .filter(customer=customer)
        .values("channel__name")
        .annotate(n=Count("id"), last=Max("created_at"))
        .order_by("-last")
    )
    return {
        "customer": customer,
        "identities": list(customer.identities.all()),
        "conversations": convs,
        "visits": list(visits),
        "duplicates": customer_duplicates(actor=actor, customer=customer),
        "merges": list(CustomerMerge.objects.filter(target=customer).order_by("-id")[:20]),
        "followups": list(FollowUpTask.objects.visible_to(actor).filter(customer=customer)[:20]),
    }
