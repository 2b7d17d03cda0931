"""Back-office customer writes: merge two customers into one, and undo a merge (split)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.selectors import require_manager
from apps.conversations.models import OPEN_STATUSES, Conversation
from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record
from apps.customers import hooks
from apps.customers.models import Customer, CustomerIdentity, CustomerMerge
from apps.customers.selectors import customer_get_for_actor

# Customer centre (F39): one profile across channels, manual merge and split. A merge moves the
# source's identities and conversations to the target and leaves the source row as an empty shell
# (attributes["merged_into"]) instead of deleting it, because other domains point at customers and
# a delete would cascade into their data; the merge is recorded (CustomerMerge) so a split moves
# exactly those rows back. Rows of other domains that follow the customer (follow-ups) move
# through hooks.on_customers_merged, inside the merge's transaction.

PROFILE_FIELDS = ("display_name", "phone", "email")


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
    hooks.run_customers_merged(source=source, target=target)
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
