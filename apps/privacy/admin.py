"""Back office: the tenant's retention policy and its personal-information requests."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from apps.core.admin_site import SuperAdminOnly, TenantSettingsAdmin, manage_site
from apps.core.errors import ApplicationError
from apps.privacy import services
from apps.privacy.models import PersonalDataRequest, RetentionPolicy


@admin.register(RetentionPolicy, site=manage_site)
class RetentionPolicyAdmin(TenantSettingsAdmin):
    settings_get = staticmethod(services.retention_policy_get)
    list_display = [
        "__str__",
        "messages_days",
        "messages_mode",
        "attachments_days",
        "visitor_trails_days",
        "exports_days",
        "updated_at",
    ]
    fields = ["messages_days", "messages_mode", "attachments_days", "visitor_trails_days", "exports_days"]

    def save_model(self, request, obj, form, change):
        # Through the service: validated, audited with old -> new.
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.retention_policy_update(actor=request.user, tenant_id=obj.tenant_id, **changes)


class RequestForm(forms.ModelForm):
    class Meta:
        model = PersonalDataRequest
        fields = ["kind", "customer"]


@admin.register(PersonalDataRequest, site=manage_site)
class PersonalDataRequestAdmin(SuperAdminOnly):
    form = RequestForm
    list_display = ["id", "kind", "customer_id", "status", "requested_by", "created_at", "finished_at", "expires_at"]
    list_filter = ["kind", "status"]
    raw_id_fields = ["customer"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [
                "kind",
                "customer",
                "status",
                "counts",
                "requested_by",
                "created_at",
                "finished_at",
                "expires_at",
                "error",
            ]
        return []

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) or ["kind", "customer"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            created = services.privacy_request_create(actor=request.user, customer_id=obj.customer_id, kind=obj.kind)
        except ApplicationError as exc:
            messages.error(request, str(exc.message))
            return
        obj.pk = created.pk

    def log_addition(self, request, obj, message):
        return None  # the service audits the request
