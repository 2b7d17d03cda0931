from __future__ import annotations

import pytest
from django.core.management import call_command

from apps.accounts.models import Branch, User
from apps.tenants.models import Tenant

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_healthz_reports_every_component(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok", body
    assert set(body["components"]) >= {"database", "redis", "celery"}


def test_demo_data_is_idempotent_and_three_levels_deep():
    call_command("seed_demo", quiet=True)
    counts = (Tenant.objects.count(), Branch.objects.count(), User.objects.count())
    call_command("seed_demo", quiet=True)
    assert (Tenant.objects.count(), Branch.objects.count(), User.objects.count()) == counts
    assert Branch.objects.filter(tenant__slug="demo").order_by("-depth").first().depth >= 3


def test_public_company_info_and_its_rate_limit(settings, client, org_a):
    settings.PUBLIC_RATE = "3/m"
    url = f"/api/v1/public/tenants/{org_a.tenant.slug}/info/"
    for _ in range(3):
        assert client.get(url).json()["name"] == org_a.tenant.name
    limited = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"


def test_login_is_rate_limited(settings, client, org_a):
    settings.LOGIN_RATE = "3/m"
    for _ in range(3):
        client.post("/accounts/login/", {"username": org_a.agent_sh.username, "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": org_a.agent_sh.username, "password": "wrong"}).status_code == 429
    )


def test_back_office_speaks_chinese_by_default_and_english_on_request(client, org_a):
    client.force_login(org_a.admin)
    assert "管理" in client.get("/manage/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/manage/"})
    assert "Customer service management" in client.get("/manage/").content.decode()


def test_tenant_timezone_is_used(client, org_a):
    assert org_a.tenant.timezone == "Asia/Shanghai"


def test_supervisor_logs_in_to_the_back_office_with_the_login_form(client, org_a):
    from tests.conftest import PASSWORD

    response = client.post("/manage/login/?next=/manage/", {"username": org_a.sup_east.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/manage/"
    assert client.get("/manage/accounts/user/").status_code == 200


def test_agent_is_refused_by_the_back_office_login_form(client, org_a):
    from tests.conftest import PASSWORD

    response = client.post(
        "/manage/login/", {"username": org_a.agent_sh.username, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
