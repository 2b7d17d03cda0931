"""The back office (/manage/): Django's admin, scoped to the user's tenant and subtree.

TenantScopedAdmin is the one admin base: querysets through `visible_to`, foreign-key choices
scoped the same way, the tenant filled in on create, every save written to the audit log, and
another tenant's object answered with 404 (Django's default is a redirect that confirms nothing,
but we want the same 404 the API gives).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import Http404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_ratelimit.decorators import ratelimit

from apps.accounts.forms import BackoffAuthenticationForm
from apps.core.ratelimit import login_rate
from apps.core.services import audit_record


class ManageLoginForm(BackoffAuthenticationForm):
    """The back office is for supervisors and admins by role (Django's form wants is_staff)."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not getattr(user, "is_manager", False):
            raise forms.ValidationError(
                _("This account cannot use the management centre. Agents use the workbench."), code="not_manager"
            )


class ManageSite(admin.AdminSite):
    login_form = ManageLoginForm
    site_header = _("Customer service management")
    site_title = _("Customer service management")
    index_title = _("Management centre")
    site_url = "/"

    def has_permission(self, request):
        user = request.user
        return bool(user.is_active and user.is_authenticated and getattr(user, "is_manager", False))

    @method_decorator(ratelimit(key="ip", rate=login_rate, method="POST", block=True))
    def login(self, request, extra_context=None):
        return super().login(request, extra_context)


manage_site = ManageSite(name="manage")


def _scoped(model, user):
    manager = model._default_manager
    if hasattr(manager, "visible_to"):
        return manager.visible_to(user)
    return manager.all()


class TenantScopedAdmin(admin.ModelAdmin):
    manager_only_write = True

    def get_queryset(self, request):
        qs = _scoped(self.model, request.user)
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_platform_operator:
            kwargs["queryset"] = db_field.related_model.objects.visible_to(request.user)
        elif "queryset" not in kwargs:
            kwargs["queryset"] = _scoped(db_field.related_model, request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            kwargs["queryset"] = _scoped(db_field.related_model, request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_platform_operator and any(f.name == "tenant" for f in self.model._meta.fields):
            exclude.append("tenant")
        return exclude

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if not request.user.is_platform_operator:
            filters = [f for f in filters if f != "tenant"]
        return filters

    def save_model(self, request, obj, form, change):
        if not change and hasattr(obj, "tenant_id") and not obj.tenant_id:
            obj.tenant_id = request.user.tenant_id
        super().save_model(request, obj, form, change)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(_("Not found."))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_manager

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    # Django's own LogEntry keeps working; our audit log adds the tenant so it can be scoped.
    def log_addition(self, request, obj, message):
        audit_record(actor=request.user, action="admin.add", obj=obj, changes={"message": str(message)})
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit_record(actor=request.user, action="admin.change", obj=obj, changes={"message": str(message)})
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit_record(actor=request.user, action="admin.delete", obj=obj)
        return super().log_deletions(request, queryset)


class SuperAdminOnly(TenantScopedAdmin):
    """Tenant-wide settings: only super admins (and platform operators) see them."""

    def has_module_permission(self, request):
        return request.user.is_active and (request.user.is_super_admin or request.user.is_platform_operator)


class TenantSettingsAdmin(SuperAdminOnly):
    """A per-tenant settings row: one per tenant, created on first read (`settings_get`, a service
    taking tenant_id); platform operators edit a tenant's from its row. No add, no delete."""

    settings_get: Any = None

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if request.user.tenant_id and self.settings_get is not None:
            self.settings_get(tenant_id=request.user.tenant_id)
        return super().changelist_view(request, extra_context)


class ReadOnlyScopedAdmin(TenantScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
