"""Back office: offline push deliveries (super admins), to see what the gateway refused and
send failed ones again."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.admin_site import ReadOnlyScopedAdmin, SuperAdminOnly, manage_site
from apps.messaging.models import MessageRecall, PushDelivery, RecallSettings
from apps.messaging.push import push_retry


def _super(request) -> bool:
    user = request.user
    return user.is_active and (user.is_super_admin or user.is_platform_operator)


@admin.register(PushDelivery, site=manage_site)
class PushDeliveryAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "id",
        "conversation_id",
        "recipient_kind",
        "recipient_id",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "recipient_kind")
    list_select_related = ("message",)
    ordering = ("-id",)
    actions = ["retry_failed"]

    def has_module_permission(self, request):
        return _super(request)

    def has_view_permission(self, request, obj=None):
        return _super(request)

    @admin.display(description=_("conversation"))
    def conversation_id(self, obj):
        return obj.message.conversation_id

    @admin.action(description=_("Send the selected failed pushes again"))
    def retry_failed(self, request, queryset):
        n = push_retry(actor=request.user, delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(n)d push queued again.", "%(n)d pushes queued again.", n) % {"n": n},
            messages.SUCCESS if n else messages.WARNING,
        )


@admin.register(RecallSettings, site=manage_site)
class RecallSettingsAdmin(SuperAdminOnly):
    """How long staff may recall their own messages (docs/protocol.md, recall)."""

    list_display = ("__str__", "window_seconds", "updated_at")
    fields = ("window_seconds",)


@admin.register(MessageRecall, site=manage_site)
class MessageRecallAdmin(ReadOnlyScopedAdmin):
    """Recalled messages as they were sent: supervisors see their branches' (the audit)."""

    list_display = ("recalled_at", "conversation_id", "recalled_by", "content_type", "body")
    list_filter = ("content_type",)
    date_hierarchy = "recalled_at"
