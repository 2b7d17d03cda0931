"""manage.py rebuild_rollups --from 2026-01-01 --to 2026-02-01 [--tenant slug]"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from apps.reports.rollups import rollup_rebuild
from apps.tenants.models import Tenant


def _parse(value: str, *, end: bool) -> datetime:
    dt = parse_datetime(value)
    if dt is None:
        d = parse_date(value)
        if d is None:
            raise CommandError(f"not a date or datetime: {value!r}")
        dt = datetime.combine(d, time.min) + (timedelta(days=1) if end else timedelta())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


class Command(BaseCommand):
    help = "Recompute report rollups from the raw event rows for a range (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, help="date or ISO datetime (UTC if naive)")
        parser.add_argument("--to", dest="end", required=True, help="date (inclusive) or ISO datetime (exclusive)")
        parser.add_argument("--tenant", help="tenant slug (default: all tenants)")

    def handle(self, *args, start, end, tenant=None, **options):
        start_dt, end_dt = _parse(start, end=False), _parse(end, end=True)
        if end_dt <= start_dt:
            raise CommandError("--to must be after --from")
        tenants = Tenant.objects.all()
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"no tenant {tenant!r}")
        for t in tenants:
            hours = rollup_rebuild(tenant_id=t.pk, start=start_dt, end=end_dt)
            self.stdout.write(f"{t.slug}: {hours} hours rebuilt")
