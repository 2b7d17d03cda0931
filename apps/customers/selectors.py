"""Customer reads for staff: one customer within the actor's reach, probable duplicates."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.accounts.selectors import require_manager
from apps.core.errors import NotFound
from apps.customers.models import Customer, IdentityKind


def customer_get_for_actor(*, actor, customer_id: int, lock: bool = False) -> Customer:
    require_manager(actor)
    qs = Customer.objects.visible_to(actor)
    if lock:
        qs = qs.select_for_update()
    c = qs.filter(pk=customer_id).first()
    if c is None or c.attributes.get("merged_into"):
        raise NotFound(_("Customer not found."))
    return c


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
