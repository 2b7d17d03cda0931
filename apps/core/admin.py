import re

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core import labels
from apps.core.admin_site import ReadOnlyScopedAdmin, manage_site
from apps.core.models import AuditEntry

# What rows written before a model had a __str__ say ("ExportJob object (3)").
_DEFAULT_REPR = re.compile(r"^\w+ object \((\w+)\)$")


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).order_by().values_list("action", flat=True).distinct()
        return sorted(((code, labels.audit_action(code)) for code in codes), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ObjectTypeFilter(admin.SimpleListFilter):
    title = _("object type")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).order_by().values_list("object_type", flat=True).distinct()
        return sorted(((code, labels.model_name(code)) for code in codes if code), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditEntry, site=manage_site)
class AuditEntryAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "actor", "action_label", "object_type_label", "object_label"]
    list_filter = [ActionFilter, ObjectTypeFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["object_repr", "actor__username", "actor__display_name", "action"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "created_at",
        "actor",
        "action_label",
        "object_type_label",
        "object_id",
        "object_label",
        "changes_table",
    )
    list_select_related = ["actor"]

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj):
        return labels.audit_action(obj.action)

    @admin.display(description=_("object type"), ordering="object_type")
    def object_type_label(self, obj):
        return labels.model_name(obj.object_type) if obj.object_type else "-"

    @admin.display(description=_("object"))
    def object_label(self, obj):
        match = _DEFAULT_REPR.match(obj.object_repr or "")
        if match:
            return f"{labels.model_name(obj.object_type)} #{match.group(1)}"
        return obj.object_repr or "-"

    @admin.display(description=_("changes"))
    def changes_table(self, obj):
        """The changed fields by their names on the form, one per row."""
        if not obj.changes:
            return "-"
        if not isinstance(obj.changes, dict):
            return str(obj.changes)
        try:
            model = apps.get_model(obj.object_type) if obj.object_type else None
        except (LookupError, ValueError):
            model = None

        def field(key):
            try:
                return model._meta.get_field(key) if model is not None else None
            except FieldDoesNotExist:
                return None

        def value(f, v):
            if isinstance(v, list):
                return "、".join(value(f, x) for x in v) or "-"
            if v is None or v == "":
                return "-"
            if isinstance(v, bool):
                return str(_("Yes") if v else _("No"))
            choices = dict(f.flatchoices) if f is not None and getattr(f, "choices", None) else {}
            return str(choices.get(v, v))

        def name(key):
            f = field(key)
            return f.verbose_name if f is not None else labels.AUDIT_KEYS.get(key, key)

        def shown(key, v):
            if key == "fields" and isinstance(v, list):  # the names of the changed fields
                return "、".join(str(name(x)) for x in v) or "-"
            return value(field(key), v)

        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((name(k), shown(k, v)) for k, v in obj.changes.items())
        )
        return format_html('<table class="kv-table">{}</table>', rows)
