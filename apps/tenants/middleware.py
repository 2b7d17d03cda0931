from django.utils import timezone

from apps.tenants.time import zone


class TenantTimezoneMiddleware:
    """Times are shown in the tenant's time zone (Asia/Shanghai unless the tenant says otherwise)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tz_name = None
        if user is not None and user.is_authenticated and user.tenant_id:
            tz_name = user.tenant.timezone
        if tz_name:
            timezone.activate(zone(tz_name))
        else:
            timezone.deactivate()
        return self.get_response(request)
