from django.contrib import admin

from apps.core.admin_site import SuperAdminOnly, TenantScopedAdmin, manage_site
from apps.reports.models import AlertKeyword, FollowUpTask, KpiTarget


@admin.register(KpiTarget, site=manage_site)
class KpiTargetAdmin(SuperAdminOnly):
    list_display = ("branch", "metric", "target")
    list_filter = ("metric",)


@admin.register(AlertKeyword, site=manage_site)
class AlertKeywordAdmin(SuperAdminOnly):
    list_display = ("word", "is_enabled")


@admin.register(FollowUpTask, site=manage_site)
class FollowUpTaskAdmin(TenantScopedAdmin):
    list_display = ("conversation", "customer", "assignee", "due_at", "status")
    list_filter = ("status",)
    raw_id_fields = ("conversation", "customer", "rating")
