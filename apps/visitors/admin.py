"""Back office: invitation rules and the company's invitation limits. Saves go through the
services (patterns checked on RE2, the rules cache refreshed, the audit log written)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from apps.core.admin_site import TenantScopedAdmin, manage_site
from apps.core.errors import ApplicationError
from apps.visitors import invitations
from apps.visitors.models import InvitationRule, InvitationSettings

RULE_FIELDS = [
    "name",
    "channel",
    "trigger",
    "url_pattern",
    "seconds",
    "visit_number",
    "referrer_pattern",
    "message",
    "is_enabled",
    "sort_order",
]


class InvitationRuleForm(forms.ModelForm):
    class Meta:
        model = InvitationRule
        fields = list(RULE_FIELDS)

    request = None  # set by the admin: who is saving

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if channel is not None and channel.kind != "web":
            self.add_error("channel", forms.ValidationError(str(invitations.NOT_A_WEBSITE)))
        user = self.request.user if self.request is not None else None
        if user is not None and not _may_use(user, channel):
            # Supervisors invite on their own branches' sites only, never company-wide.
            self.add_error("channel", forms.ValidationError(str(invitations.CHANNEL_REQUIRED)))
        try:
            invitations.rule_validate(
                trigger=cleaned.get("trigger") or "",
                url_pattern=cleaned.get("url_pattern") or "",
                referrer_pattern=cleaned.get("referrer_pattern") or "",
                message=cleaned.get("message") or "",
            )
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message))
        return cleaned


def _may_use(user, channel) -> bool:
    if user.is_super_admin or user.is_platform_operator:
        return True
    return channel is not None and channel.branch_id is not None and user.can_reach_branch(channel.branch)


@admin.register(InvitationRule, site=manage_site)
class InvitationRuleAdmin(TenantScopedAdmin):
    form = InvitationRuleForm
    list_display = ["name", "channel", "trigger", "message", "is_enabled", "sort_order"]
    list_filter = ["trigger", "is_enabled"]
    fields = tuple(RULE_FIELDS)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        return type("RequestInvitationRuleForm", (form_class,), {"request": request})

    def has_change_permission(self, request, obj=None):
        if obj is not None and not _may_use(request.user, obj.channel):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not _may_use(request.user, obj.channel):
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "channel" and field is not None:
            field.queryset = field.queryset.filter(kind="web")
        return field

    def save_model(self, request, obj, form, change):
        if not change and not obj.tenant_id:
            obj.tenant_id = request.user.tenant_id
        invitations.rule_save(rule=obj, actor=request.user)

    def delete_model(self, request, obj):
        invitations.rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            invitations.rule_delete(rule=rule, actor=request.user)


class InvitationSettingsForm(forms.ModelForm):
    class Meta:
        model = InvitationSettings
        fields = ["daily_cap", "quiet_start", "quiet_end"]

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("quiet_start") is None) != (cleaned.get("quiet_end") is None):
            raise forms.ValidationError(str(invitations.QUIET_HOURS_BOTH))
        return cleaned


@admin.register(InvitationSettings, site=manage_site)
class InvitationSettingsAdmin(TenantScopedAdmin):
    form = InvitationSettingsForm
    list_display = ["__str__", "daily_cap", "quiet_start", "quiet_end"]
    fields = ["daily_cap", "quiet_start", "quiet_end"]

    def has_module_permission(self, request):
        return request.user.is_active and (request.user.is_super_admin or request.user.is_platform_operator)

    def has_add_permission(self, request):
        # One row per company.
        return (
            self.has_module_permission(request)
            and not InvitationSettings.objects.filter(tenant_id=request.user.tenant_id).exists()
        )

    def save_model(self, request, obj, form, change):
        if not change and not obj.tenant_id:
            obj.tenant_id = request.user.tenant_id
        invitations.settings_save(obj=obj, actor=request.user)
