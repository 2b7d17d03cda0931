from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse

from apps.core.admin_site import SuperAdminOnly, TenantScopedAdmin, manage_site
from apps.reports.models import FollowUpTask, KpiTarget, ReportRow


@admin.register(KpiTarget, site=manage_site)
class KpiTargetAdmin(SuperAdminOnly):
    list_display = ("branch", "metric", "target")
    list_filter = ("metric",)


@admin.register(FollowUpTask, site=manage_site)
class FollowUpTaskAdmin(TenantScopedAdmin):
    list_display = ("conversation", "customer", "assignee", "due_at", "status")
    list_filter = ("status",)
    raw_id_fields = ("conversation", "customer", "rating")


@admin.register(ReportRow, site=manage_site)
class SupervisorCentreLink(TenantScopedAdmin):
    """The back-office index entry for the supervisor centre: its list opens the report pages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        return TemplateResponse(
            request,
            "reports/admin_entry.html",
            {**self.admin_site.each_context(request), "title": self.model._meta.verbose_name_plural},
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        raise Http404
