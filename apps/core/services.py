from __future__ import annotations

from typing import Any

from django.db import models

from apps.core.models import AuditEntry


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    tenant=None,
    changes: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
) -> AuditEntry:
    if tenant is None and obj is not None:
        tenant = getattr(obj, "tenant", None)
        if tenant is None and obj.__class__.__name__ == "Tenant":
            tenant = obj
    if tenant is None and actor is not None:
        tenant = getattr(actor, "tenant", None)
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=object_type or (obj._meta.label if obj is not None else ""),
        object_id=object_id or (str(obj.pk) if obj is not None and obj.pk is not None else ""),
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
        changes=changes or {},
    )


def tenant_settings_get(model: type[models.Model], *, tenant_id: int) -> Any:
    """The tenant's one row of a per-tenant settings model (a unique tenant), created on first read."""
    manager = model._default_manager
    row = manager.filter(tenant_id=tenant_id).first()
    if row is None:
        row, _created = manager.get_or_create(tenant_id=tenant_id)
    return row


def require_tenant_admin(actor, tenant_id: int, message) -> None:
    """Platform operators, or the tenant's super admins; another tenant's staff get the 404 of a
    missing object, the tenant's other staff a 403 saying why (`message`)."""
    from apps.core.errors import NotFound, PermissionDenied

    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise NotFound()
    if actor.is_platform_operator:
        return
    if actor.tenant_id != tenant_id:
        raise NotFound()
    if not actor.is_super_admin:
        raise PermissionDenied(message)
