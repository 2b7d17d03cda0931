from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin_site import ReadOnlyScopedAdmin, manage_site
from apps.core.models import AuditEntry


@admin.register(AuditEntry, site=manage_site)
class AuditEntryAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["object_repr", "actor__username", "actor__display_name", "action"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "actor", "action", "object_type", "object_id", "object_repr", "changes"]
    list_select_related = ["actor"]

    @admin.display(description=_("changes"))
    def changes_text(self, obj):
        return obj.changes
