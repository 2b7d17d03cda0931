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
