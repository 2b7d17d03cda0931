"""Customer writes: resolve the visitor behind a browser id or a tenant-signed identity; merge and split."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.selectors import require_manager
from apps.conversations.models import OPEN_STATUSES, Conversation
from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record
from apps.customers import hooks
from apps.customers.models import Customer, CustomerIdentity, CustomerMerge, IdentityKind
from apps.customers.selectors import customer_get_for_actor

VISITOR_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A signed identity is accepted for this long after the tenant's server signed it.
IDENTITY_MAX_AGE_SECONDS = 24 * 3600
IDENTITY_MAX_SKEW_SECONDS = 300


def identity_signature(*, secret: str, user_id: str, timestamp: int | str) -> str:
    """HMAC-SHA256 the tenant's server computes: hex(HMAC(secret, "{user_id}.{timestamp}"))."""
    return hmac.new(secret.encode(), f"{user_id}.{timestamp}".encode(), hashlib.sha256).hexdigest()


def identity_verify(*, tenant, identity: dict, now: float | None = None) -> str:
    """Check a signed identity; return the tenant's user id or raise ApplicationError."""
    user_id = str(identity.get("user_id") or "").strip()
    signature = str(identity.get("signature") or "")
    try:
        timestamp = int(identity.get("timestamp") or "")
    except (TypeError, ValueError):
        raise ApplicationError("invalid_identity", _("The signed identity has no valid timestamp."), status=400)
    if not user_id or len(user_id) > 150:
        raise ApplicationError("invalid_identity", _("The signed identity has no valid user id."), status=400)
    now = time.time() if now is None else now
    if timestamp > now + IDENTITY_MAX_SKEW_SECONDS or timestamp < now - IDENTITY_MAX_AGE_SECONDS:
        raise ApplicationError("identity_expired", _("The signed identity has expired."), status=401)
    expected = identity_signature(secret=tenant.identity_secret, user_id=user_id, timestamp=timestamp)
    if not hmac.compare_digest(expected, signature.lower()):
        raise ApplicationError("invalid_signature", _("The identity signature is not valid."), status=401)
    return user_id


def _identity_customer(*, tenant_id: int, kind: str, value: str) -> Customer | None:
    row = (
        CustomerIdentity.objects.select_related("customer").filter(tenant_id=tenant_id, kind=kind, value=value).first()
    )
    return row.customer if row is not None else None


def _attach_identity(*, customer: Customer, kind: str, value: str) -> Customer:
    """Attach an identity; if another tab attached it first, use the customer it points to."""
    try:
        with transaction.atomic():
            CustomerIdentity.objects.create(tenant_id=customer.tenant_id, customer=customer, kind=kind, value=value)
        return customer
    except IntegrityError:
        return _identity_customer(tenant_id=customer.tenant_id, kind=kind, value=value) or customer


def customer_resolve_visitor(
    *, tenant, visitor_id: str | None = None, identity: dict | None = None, now: float | None = None
) -> tuple[Customer, str]:
    """The customer behind a visitor: by signed identity first, else by the browser's anonymous id.

    A verified identity wins: the same tenant user on another device is the same customer, so
    their history follows them. The first time an identity is seen on a browser that already has
    an anonymous customer, that customer takes the identity (its history is kept). Returns the
    customer and the visitor id the browser should keep.
    """
    if visitor_id is not None and not VISITOR_ID_RE.match(visitor_id):
        visitor_id = None  # a mangled id is not an error: the browser just gets a fresh one
    external_id = identity_verify(tenant=tenant, identity=identity, now=now) if identity else None
    customer = None
    if external_id is not None:
        customer = _identity_customer(tenant_id=tenant.pk, kind=IdentityKind.EXTERNAL, value=external_id)
    anonymous = None
    if visitor_id:
        anonymous = _identity_customer(tenant_id=tenant.pk, kind=IdentityKind.ANONYMOUS, value=visitor_id)
    if customer is None:
        customer = anonymous
        if external_id is not None and customer is not None:
            customer = _attach_identity(customer=customer, kind=IdentityKind.EXTERNAL, value=external_id)
    if customer is None:
        customer = Customer.objects.create(tenant_id=tenant.pk)
        if external_id is not None:
            customer = _attach_identity(customer=customer, kind=IdentityKind.EXTERNAL, value=external_id)
    if not visitor_id:
        visitor_id = secrets.token_urlsafe(18)
    if anonymous is None:
        _attach_identity(customer=customer, kind=IdentityKind.ANONYMOUS, value=visitor_id)
    updates: dict[str, object] = {"last_seen_at": timezone.now()}
    if identity:
        name = str(identity.get("name") or "").strip()[:100]
        phone = str(identity.get("phone") or "").strip()[:30]
        if name:
            updates["display_name"] = name
        if phone:
            updates["phone"] = phone
    Customer.objects.filter(pk=customer.pk).update(**updates)
    for field, value in updates.items():
        setattr(customer, field, value)
    return customer, visitor_id


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
