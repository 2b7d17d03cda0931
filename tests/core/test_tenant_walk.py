"""Walk every back-office screen and every API detail route with another tenant's ids.

Two full demo tenants are seeded (every app adds its demo data through apps.core.demo), then a
super admin of tenant "demo" asks for each object of tenant "other": every answer must be 404.
New models and endpoints are covered automatically.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.accounts.models import User
from apps.core.admin_site import manage_site
from apps.tenants.models import Tenant

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def two_tenants():
    call_command("seed_demo", quiet=True)
    call_command("seed_demo", slug="other", name="另一家公司", quiet=True)
    return Tenant.objects.get(slug="demo"), Tenant.objects.get(slug="other")


def _tenant_objects(model, tenant, limit=5):
    if model is Tenant:
        return [tenant]
    if not any(f.name == "tenant" for f in model._meta.fields):
        return []
    return list(model._default_manager.filter(tenant=tenant).order_by("pk")[:limit])


def test_every_admin_change_page_of_another_tenant_is_404(client, two_tenants):
    mine, other = two_tenants
    client.force_login(User.objects.get(username="admin"))
    checked = 0
    for model in manage_site._registry:
        objects = _tenant_objects(model, other)
        for obj in objects:
            url = reverse(f"manage:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
            assert client.get(url).status_code == 404, url
            checked += 1
        changelist = client.get(reverse(f"manage:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        assert changelist.status_code in (200, 403), model
        page = changelist.content.decode()
        for obj in objects:
            change_path = reverse(f"manage:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
            assert change_path not in page, (model, obj.pk)
    assert checked >= 10


def _api_detail_routes():
    """(route name, model, kwarg) for every /api/v1/ route that takes one object id."""
    resolver = get_resolver()
    found = []

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and namespace == "v1" and p.name:
                kwargs = [k for k in p.pattern.regex.groupindex if k != "format"]
                if kwargs != ["pk"] or str(p.pattern).endswith(r"\.(?P<format>[a-z0-9]+)/?$"):
                    continue
                view = getattr(p.callback, "cls", None)
                model = getattr(view, "model", None) or getattr(getattr(view, "queryset", None), "model", None)
                if model is not None and issubclass(model, models.Model):
                    found.append((f"v1:{p.name}", model))

    walk(resolver.url_patterns, "", None)
    return found


def test_every_api_detail_route_of_another_tenant_is_404(api_client, two_tenants):
    mine, other = two_tenants
    api_client.force_authenticate(User.objects.get(username="admin"))
    routes = _api_detail_routes()
    assert len(routes) >= 3
    checked = 0
    for name, model in routes:
        for obj in _tenant_objects(model, other):
            url = reverse(name, kwargs={"pk": obj.pk})
            response = api_client.get(url)
            assert response.status_code in (404, 405), (url, response.status_code)
            if response.status_code == 404:
                assert response.json()["error"]["code"] == "not_found"
            checked += 1
    assert checked >= 5
