"""Tenant ownership and org-subtree scoping, declared once on the model.

A tenant-owned model inherits TenantOwned and may name `subtree_field`: the path to a Branch
whose subtree limits what supervisors and agents see. `Model.objects.visible_to(user)` is the
only scoping API; the API base, the admin base and the consumers all call it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant_or_id):
        tenant_id = getattr(tenant_or_id, "pk", tenant_or_id)
        return self.filter(tenant_id=tenant_id)

    def visible_to(self, user):
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_platform_operator:
            return self
        if not user.tenant_id:
            return self.none()
        qs = self.filter(tenant_id=user.tenant_id)
        subtree_field = getattr(self.model, "subtree_field", None)
        if subtree_field and not user.is_super_admin:
            if user.branch_id is None:
                return qs.none()
            branch_path = user.branch_path
            include_null = getattr(self.model, "subtree_includes_unassigned", False)
            lookup = "path__startswith" if subtree_field == "self" else f"{subtree_field}__path__startswith"
            cond = models.Q(**{lookup: branch_path})
            if include_null:
                cond |= models.Q(**{f"{subtree_field}__isnull": True})
            qs = qs.filter(cond)
        return qs


class TenantOwned(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, verbose_name=_("tenant"), related_name="+")

    objects = TenantQuerySet.as_manager()

    subtree_field: str | None = None

    class Meta:
        abstract = True
