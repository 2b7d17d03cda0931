"""Back-office screens: conversation tags (F47) and the transfer log."""

from __future__ import annotations

from django.contrib import admin

from apps.conversations.models import ConversationTag, Transfer
from apps.core.admin_site import ReadOnlyScopedAdmin, SuperAdminOnly, manage_site


@admin.register(ConversationTag, site=manage_site)
class ConversationTagAdmin(SuperAdminOnly):
    list_display = ["name", "color", "sort_order", "is_enabled"]
    list_editable = ["sort_order", "is_enabled"]
    search_fields = ["name"]


@admin.register(Transfer, site=manage_site)
class TransferAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "conversation", "from_agent", "to_agent", "to_skill_group", "status", "resolved_at"]
    list_filter = ["status"]
