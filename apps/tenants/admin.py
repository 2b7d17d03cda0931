from django import forms
from django.contrib import admin

from apps.core.admin_site import SuperAdminOnly, manage_site
from apps.core.errors import ApplicationError
from apps.tenants.models import Tenant


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        exclude: list[str] = []  # the admin's fieldsets decide what is shown

    def clean_push_webhook_url(self):
        from apps.outbound.guard import validate_url

        url = self.cleaned_data.get("push_webhook_url")
        try:
            return validate_url(url) if url else ""
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code)


@admin.register(Tenant, site=manage_site)
class TenantAdmin(SuperAdminOnly):
    form = TenantForm
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
