"""Back-office screens (F45/F52/F58): routing rules, working hours, holidays, the dispatch
switches and timeouts, and left messages."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin_site import SuperAdminOnly, TenantScopedAdmin, manage_site
from apps.core.forms import KeyValueField, KeyValueWidget
from apps.routing import services
from apps.routing.models import DispatchSettings, Holiday, LeaveMessage, RoutingRule, WorkingHours


@admin.register(RoutingRule, site=manage_site)
class RoutingRuleAdmin(SuperAdminOnly):
    list_display = [
        "name",
        "order",
        "channel",
        "target_branch",
        "target_skill_group",
        "strategy",
        "sticky",
        "overflow",
        "priority",
        "is_enabled",
    ]
    list_editable = ["order", "is_enabled"]
    list_filter = ["is_enabled", "strategy"]
    search_fields = ["name", "keywords"]
    filter_horizontal = ["target_agents"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "attribute_conditions":
            # One row per attribute the visitor must have (true/false and numbers are typed).
            return KeyValueField(
                label=db_field.verbose_name,
                required=False,
                widget=KeyValueWidget(key_label=_("Attribute"), value_label=_("Value")),
                help_text=_(
                    "The rule matches visitors with all of these attributes, e.g. 会员等级 = 金卡, 省份 = 上海 (true/false and whole numbers are typed)."
                ),
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class CalendarAdmin(SuperAdminOnly):
    def save_model(self, request, obj, form, change):
        if not obj.tenant_id:
            obj.tenant_id = request.user.tenant_id
        services.calendar_entry_save(actor=request.user, entry=obj)

    def delete_model(self, request, obj):
        services.calendar_entry_delete(actor=request.user, entry=obj)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            services.calendar_entry_delete(actor=request.user, entry=entry)


@admin.register(WorkingHours, site=manage_site)
class WorkingHoursAdmin(CalendarAdmin):
    list_display = ["branch", "weekday", "start", "end"]
    list_filter = ["weekday"]


@admin.register(Holiday, site=manage_site)
class HolidayAdmin(CalendarAdmin):
    list_display = ["date", "name", "branch"]
    date_hierarchy = "date"


@admin.register(DispatchSettings, site=manage_site)
class DispatchSettingsAdmin(SuperAdminOnly):
    list_display = [
        "__str__",
        "intake_paused",
        "auto_limit_enabled",
        "auto_paused",
        "queue_threshold",
        "queue_cap",
        "changed_at",
    ]
    readonly_fields = ["auto_paused", "paused_since"]
    fieldsets = [
        (
            _("Rate-limit switch"),
            {
                "fields": [
                    "intake_paused",
                    "auto_limit_enabled",
                    "auto_limit_queue_length",
                    "auto_limit_messages_per_second",
                    "auto_paused",
                    "paused_since",
                    "paused_message",
                ]
            },
        ),
        (
            _("Queue"),
            {
                "fields": [
                    "queue_threshold",
                    "queue_cap",
                    "queue_full_message",
                    "overflow_depth",
                    "sticky_enabled",
                ]
            },
        ),
        (
            _("Timeouts"),
            {
                "fields": [
                    "first_response_timeout_seconds",
                    "queue_wait_timeout_seconds",
                    "transfer_timeout_seconds",
                    "visitor_inactivity_warning_seconds",
                    "visitor_inactivity_close_seconds",
                    "inactivity_warning_message",
                    "presence_grace_seconds",
                    "off_hours_message",
                ]
            },
        ),
        (
            _("Waiting for the customer"),
            {"fields": ["waiting_releases_load", "waiting_close_seconds", "waiting_close_message"]},
        ),
    ]

    def has_add_permission(self, request):
        tenant_id = request.user.tenant_id
        return super().has_add_permission(request) and not DispatchSettings.objects.filter(tenant_id=tenant_id).exists()

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("paused automatically at"))
    def paused_since(self, obj):
        return obj.auto_paused_at or "-"

    @admin.display(description=_("updated at"), ordering="updated_at")
    def changed_at(self, obj):
        return obj.updated_at

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        saved = services.dispatch_settings_update(
            actor=request.user, tenant_id=obj.tenant_id or request.user.tenant_id, **changes
        )
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()


@admin.register(LeaveMessage, site=manage_site)
class LeaveMessageAdmin(TenantScopedAdmin):
    list_display = ["created_at", "channel", "name", "contact", "reason", "handled_at"]
    list_filter = ["reason"]
    search_fields = ["contact", "content", "name"]
    readonly_fields = ["channel", "customer", "conversation", "name", "contact", "content", "reason", "created_at"]

    def has_add_permission(self, request):
        return False
