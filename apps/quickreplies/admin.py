from django.contrib import admin

from apps.core.admin_site import TenantScopedAdmin, manage_site
from apps.quickreplies.models import TeamQuickReply


@admin.register(TeamQuickReply, site=manage_site)
class TeamQuickReplyAdmin(TenantScopedAdmin):
    """Supervisors keep the team sets for their subtree here; personal replies stay private."""

    list_display = ["title", "category", "branch", "shortcut", "sort_order", "use_count"]
    list_filter = ["category", "branch"]
    search_fields = ["title", "content", "shortcut"]
    fields = ["branch", "category", "title", "content", "shortcut", "sort_order"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(owner__isnull=True)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "branch" and not (request.user.is_super_admin or request.user.is_platform_operator):
            # A supervisor may only file team replies inside their own subtree, never tenant-wide.
            field.required = True
        return field

    def has_change_permission(self, request, obj=None):
        if (
            obj is not None
            and obj.branch_id is None
            and not (request.user.is_super_admin or request.user.is_platform_operator)
        ):
            return False  # tenant-wide sets belong to the super admin
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)
