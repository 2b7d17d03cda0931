"""Reads of apps.privacy, for the company's administrators only."""

from __future__ import annotations

from apps.core.errors import NotFound
from apps.core.models import AuditEntry
from apps.privacy.models import PersonalDataRequest, RetentionPolicy
from apps.privacy.services import _customer_for_admin, _require_admin, retention_policy_get


def retention_policy_for_actor(*, actor) -> RetentionPolicy:
    if not actor.tenant_id:
        raise NotFound()
    _require_admin(actor, actor.tenant_id)
    return retention_policy_get(tenant_id=actor.tenant_id)


def privacy_requests_for_actor(*, actor):
    if actor.tenant_id:
        _require_admin(actor, actor.tenant_id)
    return PersonalDataRequest.objects.visible_to(actor).order_by("-id")


def privacy_request_for_actor(*, actor, request_id: int) -> PersonalDataRequest:
    row = PersonalDataRequest.objects.visible_to(actor).filter(pk=request_id).first()
    if row is None:
        raise NotFound()
    _require_admin(actor, row.tenant_id)
    return row


def customer_views(*, actor, customer_id: int, limit: int = 500) -> list[dict]:
    customer = _customer_for_admin(actor=actor, customer_id=customer_id)
    rows = (
        AuditEntry.objects.filter(
            tenant_id=customer.tenant_id,
            action="customer.view",
            object_type="customers.Customer",
            object_id=str(customer.pk),
        )
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        {
            "actor": (r.actor.display_name or r.actor.username) if r.actor else "",
            "where": (r.changes or {}).get("where", ""),
            "at": r.created_at,
        }
        for r in rows
    ]
