"""Customer writes: resolve the visitor behind a browser id or a tenant-signed identity (merge and split: merging.py)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError
from apps.customers.models import Customer, CustomerIdentity, IdentityKind

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
