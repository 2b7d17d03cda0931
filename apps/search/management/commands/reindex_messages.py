"""manage.py reindex_messages [--tenant slug]: rebuild the full-text index from the database."""

from django.core.management.base import BaseCommand, CommandError

from apps.search.selectors import get_backend
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Rebuild the message full-text index (Elasticsearch, or the database's SearchTerm table)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="only this tenant (slug); default: drop and rebuild everything")
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args, tenant=None, batch=2000, **options):
        tenant_id = None
        if tenant:
            tenant_id = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True).first()
            if tenant_id is None:
                raise CommandError(f"no tenant {tenant!r}")
        backend = get_backend()
        n = backend.reindex_all(tenant_id=tenant_id, batch=batch)
        self.stdout.write(f"{backend.name}: {n} messages indexed")
