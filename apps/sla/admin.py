"""Back office: SLA policies (super admins) and recorded breaches (supervisors, their subtree)."""

from __future__ import annotations

from django.contrib import admin

from apps.core.admin_site import ReadOnlyScopedAdmin, SuperAdminOnly, manage_site
from apps.sla import services
from apps.sla.models import SlaBreach, SlaPolicy


@admin.register(SlaPolicy, site=manage_site)
class SlaPolicyAdmin(SuperAdminOnly):
    list_display = [
        "name",
        "order",
        "channel",
        "min_priority",
        "customer_tier",
        "first_response_seconds",
        "resolution_seconds",
        "warning_percent",
        "is_enabled",
    ]
    list_editable = ["order", "is_enabled"]
    fields = [
        "name",
        "is_enabled",
        "order",
        "channel",
        "min_priority",
        "customer_tier",
        "first_response_seconds",
        "resolution_seconds",
        "warning_percent",
    ]

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in services.POLICY_FIELDS}
        tenant_id = obj.tenant_id or request.user.tenant_id
        saved = services.sla_policy_save(
            actor=request.user,
            tenant_id=tenant_id,
            policy=obj if change else None,
            **(
                data
                if change
                else {name: form.cleaned_data[name] for name in services.POLICY_FIELDS if name in form.cleaned_data}
            ),
        )
        obj.pk = saved.pk


@admin.register(SlaBreach, site=manage_site)
class SlaBreachAdmin(ReadOnlyScopedAdmin):
    list_display = ["breached_at", "conversation", "kind", "due_at", "agent", "branch"]
    list_filter = ["kind"]
    date_hierarchy = "breached_at"
