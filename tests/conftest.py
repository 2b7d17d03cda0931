"""Shared fixtures: two tenants with branch trees and people, built through the services."""

from __future__ import annotations

import itertools

import pytest

from apps.accounts import services as account_services
from apps.accounts.models import Role
from apps.tenants.models import Tenant

PASSWORD = "test-pass-2026!"
_counter = itertools.count()


class Org:
    """A tenant with HQ > East > Shanghai > Pudong and HQ > South, and one person per role."""

    def __init__(self, slug: str):
        self.tenant = Tenant.objects.create(name=f"Tenant {slug}", slug=slug)
        make = account_services.branch_create
        self.hq = make(tenant=self.tenant, name="HQ", code=f"{slug}-hq")
        self.east = make(tenant=self.tenant, name="East", code=f"{slug}-east", parent=self.hq)
        self.sh = make(tenant=self.tenant, name="Shanghai", code=f"{slug}-sh", parent=self.east)
        self.pd = make(tenant=self.tenant, name="Pudong", code=f"{slug}-pd", parent=self.sh)
        self.south = make(tenant=self.tenant, name="South", code=f"{slug}-south", parent=self.hq)
        self.admin = self.user("admin", Role.SUPER_ADMIN, self.hq)
        self.sup_east = self.user("sup_east", Role.SUPERVISOR, self.east)
        self.sup_south = self.user("sup_south", Role.SUPERVISOR, self.south)
        self.agent_sh = self.user("agent_sh", Role.AGENT, self.sh)
        self.agent_pd = self.user("agent_pd", Role.AGENT, self.pd)
        self.agent_south = self.user("agent_south", Role.AGENT, self.south)

    def user(self, name: str, role: str, branch, cap: int = 5):
        return account_services.user_create(
            tenant=self.tenant,
            username=f"{self.tenant.slug}_{name}_{next(_counter)}",
            password=PASSWORD,
            role=role,
            branch=branch,
            display_name=name,
            max_chats_cap=cap,
            actor=None,
        )


@pytest.fixture
def org_a(db):
    return Org("a")


@pytest.fixture
def org_b(db):
    return Org("b")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


def _forget_live_connections() -> None:
    """Websocket presence (apps.messaging.presence) of this test process's Redis prefix: a
    rolled-back user id is reused by the next test, its connections must not be."""
    from django.conf import settings
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    keys = list(redis.scan_iter(f"{settings.REDIS_PREFIX}:im:conn:*", count=1000))
    if keys:
        redis.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache (Redis): start every test from zero. Only this test
    process's keys (its KEY_PREFIX): cache.clear() would FLUSHDB a Redis others share."""
    from django.core.cache import cache

    from apps.knowledge.alerts import forget_keywords
    from apps.routing.selectors import dispatch_settings_forget

    cache.delete_pattern("*")
    forget_keywords()  # process-local copies: ids are reused when a test's rows roll back
    dispatch_settings_forget()  # likewise: a tenant's settings and working-hours calendar
    _forget_live_connections()
    yield


def pytest_collection_modifyitems(config, items):
    """CI runs the suite on two pytest-xdist workers (`-n 2 --dist loadgroup`, .ci/run). A fixture
    this suite shares per session or per module (the production topology with its private nginx,
    mariadbd and redis-server processes; a module's process pool or index) is built once: every
    test using it goes to the same worker (one xdist_group per such fixture)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        for name in info.names_closure if info else ():
            shared = [d for d in info.name2fixturedefs.get(name, ()) if d.scope in ("session", "module")]
            if any(d.baseid.startswith("tests") for d in shared):
                item.add_marker(pytest.mark.xdist_group(f"{shared[-1].baseid}::{name}"))
                break
