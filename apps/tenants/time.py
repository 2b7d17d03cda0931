"""The tenant's time: one place that turns a tenant (or a user, or a name) into its time zone, and
its local dates into aware ranges. Dates and "today" are the tenant's, decided on the server."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

DEFAULT_TZ = "Asia/Shanghai"


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The time zone of that name; the default for an empty or unknown name."""
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_TZ)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TZ)


def tenant_tz(tenant=None, *, user=None, tenant_id: int | None = None) -> zoneinfo.ZoneInfo:
    """The tenant's time zone, from a Tenant, a user (their tenant) or a tenant id."""
    if tenant is None and user is not None:
        tenant = getattr(user, "tenant", None) if getattr(user, "tenant_id", None) else None
    if tenant is None and tenant_id is not None:
        from apps.tenants.models import Tenant

        return zone(Tenant.objects.filter(pk=tenant_id).values_list("timezone", flat=True).first())
    return zone(getattr(tenant, "timezone", None))


def local_today(tz, *, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(tz).date()


def day_range(tz, d_from: date, d_to: date) -> tuple[datetime, datetime]:
    """Local dates (inclusive) -> an aware UTC [start, end)."""
    start = datetime.combine(d_from, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(d_to + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end
