from django.contrib import admin

from apps.core.admin_site import SuperAdminOnly, manage_site
from apps.tenants.models import Tenant


@admin.register(Tenant, site=manage_site)
class TenantAdmin(SuperAdminOnly):
    list_display = ["name", "slug", "is_active", "timezone", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["is_active"]

    def get_queryset(self, request):
        return Tenant.objects.visible_to(request.user)

    def get_fields(self, request, obj=None):
        fields = ["name", "slug", "logo", "welcome_text", "service_hours_text", "timezone", "push_webhook_url"]
        if request.user.is_platform_operator:
            fields.append("is_active")
        return fields

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_platform_operator else ["slug"]

    def has_add_permission(self, request):
        return request.user.is_platform_operator

    def has_delete_permission(self, request, obj=None):
        return False
