"""Back office: the tenant's AI provider (super admins) and its usage."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.assist import services
from apps.assist.models import AssistSettings, AssistUsage
from apps.core.admin_site import SuperAdminOnly, TenantSettingsAdmin, manage_site
from apps.core.errors import ApplicationError


class AssistSettingsForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored, never shown back in full. Leave empty to keep the stored key."),
    )

    class Meta:
        model = AssistSettings
        fields = [
            "is_enabled",
            "api_url",
            "model",
            "api_key",
            "timeout_seconds",
            "max_messages",
            "summarize_on_transfer",
            "summarize_on_close",
            "suggestions_enabled",
        ]

    def clean(self):
        cleaned = super().clean()
        # The service's rules, on the form (the service checks again when saving).
        for name in ("api_url", "timeout_seconds", "max_messages"):
            if name in cleaned and cleaned[name] is not None:
                try:
                    cleaned[name] = services.setting_clean(name, cleaned[name])
                except ApplicationError as exc:
                    self.add_error(name, str(exc.message))
        if cleaned.get("is_enabled") and not (cleaned.get("api_url") and cleaned.get("model")):
            raise forms.ValidationError(_("Enter the API address and the model before switching AI assistance on."))
        return cleaned


@admin.register(AssistSettings, site=manage_site)
class AssistSettingsAdmin(TenantSettingsAdmin):
    form = AssistSettingsForm
    settings_get = staticmethod(services.assist_settings_get)
    list_display = ["__str__", "is_enabled", "model", "key_hint", "updated_at"]
    readonly_fields = ["key_hint"]
    fieldsets = [
        (None, {"fields": ["is_enabled"]}),
        (_("Provider"), {"fields": ["api_url", "model", "api_key", "key_hint", "timeout_seconds", "max_messages"]}),
        (_("What it does"), {"fields": ["summarize_on_transfer", "summarize_on_close", "suggestions_enabled"]}),
    ]

    @admin.display(description=_("stored key"))
    def key_hint(self, obj):
        return obj.key_hint or "—"

    def save_model(self, request, obj, form, change):
        # Through the service: validated, audited (the key only as "changed").
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.SETTINGS_FIELDS}
        if form.cleaned_data.get("api_key"):
            changes["api_key"] = form.cleaned_data["api_key"]
        services.assist_settings_update(actor=request.user, tenant_id=obj.tenant_id, **changes)
        obj.refresh_from_db()


@admin.register(AssistUsage, site=manage_site)
class AssistUsageAdmin(SuperAdminOnly):
    list_display = ["day", "calls", "failures", "prompt_tokens", "completion_tokens", "total_tokens"]
    list_filter = ["tenant"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
