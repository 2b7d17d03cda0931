"""Tenancy and org-subtree scoping through the API and the back office."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.accounts.models import Branch, SkillGroup, User
from apps.core.models import AuditEntry

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_supervisor_api_lists_only_their_subtree(org_a, api_client):
    api_client.force_authenticate(org_a.sup_east)
    names = {b["name"] for b in api_client.get("/api/v1/branches/?limit=100").json()["results"]}
    assert names == {"East", "Shanghai", "Pudong"}
    users = {u["id"] for u in api_client.get("/api/v1/users/?limit=100").json()["results"]}
    assert org_a.agent_pd.pk in users and org_a.agent_sh.pk in users
    assert org_a.agent_south.pk not in users and org_a.admin.pk not in users


def test_supervisor_cannot_edit_outside_subtree(org_a, api_client):
    api_client.force_authenticate(org_a.sup_east)
    response = api_client.patch(f"/api/v1/users/{org_a.agent_south.pk}/", {"display_name": "x"}, format="json")
    assert response.status_code == 404
    response = api_client.post(f"/api/v1/branches/{org_a.south.pk}/set-enabled/", {"enabled": False}, format="json")
    assert response.status_code == 404
    org_a.south.refresh_from_db()
    assert org_a.south.is_enabled


def test_supervisor_edits_inside_subtree_and_is_audited(org_a, api_client):
    api_client.force_authenticate(org_a.sup_east)
    response = api_client.patch(f"/api/v1/users/{org_a.agent_pd.pk}/", {"max_chats_cap": 8}, format="json")
    assert response.status_code == 200, response.content
    org_a.agent_pd.refresh_from_db()
    assert org_a.agent_pd.max_chats_cap == 8
    entry = AuditEntry.objects.filter(action="user.update", object_id=str(org_a.agent_pd.pk)).get()
    assert entry.actor == org_a.sup_east and entry.changes["max_chats_cap"] == [5, 8]


def test_supervisor_opens_account_only_in_subtree_and_not_above_own_role(org_a, api_client):
    api_client.force_authenticate(org_a.sup_east)
    ok = api_client.post(
        "/api/v1/users/",
        {"username": "new_agent", "password": "a-Strong-pass-9", "role": "agent", "branch": org_a.pd.pk},
        format="json",
    )
    assert ok.status_code == 201, ok.content
    outside = api_client.post(
        "/api/v1/users/",
        {"username": "x_agent", "password": "a-Strong-pass-9", "role": "agent", "branch": org_a.south.pk},
        format="json",
    )
    assert outside.status_code == 404
    escalate = api_client.post(
        "/api/v1/users/",
        {"username": "boss", "password": "a-Strong-pass-9", "role": "super_admin", "branch": org_a.pd.pk},
        format="json",
    )
    assert escalate.status_code == 403
    assert escalate.json()["error"]["code"] == "permission_denied"
    assert not User.objects.filter(username__in=["x_agent", "boss"]).exists()


def test_bad_input_is_a_clear_4xx_and_changes_nothing(org_a, api_client):
    api_client.force_authenticate(org_a.admin)
    before = User.objects.count()
    response = api_client.post(
        "/api/v1/users/", {"username": "", "role": "wizard"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and "提交的数据无效" in body["message"]
    assert User.objects.count() == before


def test_other_tenant_objects_are_404_through_the_api(org_a, org_b, api_client):
    api_client.force_authenticate(org_a.admin)
    foreign = {
        "branches": [b.pk for b in Branch.objects.filter(tenant=org_b.tenant)],
        "users": [u.pk for u in User.objects.filter(tenant=org_b.tenant)],
        "skill-groups": [SkillGroup.objects.create(tenant=org_b.tenant, name="B group").pk],
    }
    for resource, ids in foreign.items():
        listed = {row["id"] for row in api_client.get(f"/api/v1/{resource}/?limit=500").json()["results"]}
        assert not listed & set(ids), resource
        for pk in ids:
            assert api_client.get(f"/api/v1/{resource}/{pk}/").status_code == 404, (resource, pk)
            assert api_client.patch(f"/api/v1/{resource}/{pk}/", {"name": "hacked"}, format="json").status_code in (
                404,
                405,
            )
    assert (
        api_client.post(f"/api/v1/users/{org_b.agent_sh.pk}/set-active/", {"enabled": False}, format="json").status_code
        == 404
    )
    org_b.agent_sh.refresh_from_db()
    assert org_b.agent_sh.is_active


def test_other_tenant_objects_are_404_through_the_admin(org_a, org_b, client):
    client.force_login(org_a.admin)
    group_b = SkillGroup.objects.create(tenant=org_b.tenant, name="B group")
    targets = [
        ("accounts", "branch", org_b.east.pk),
        ("accounts", "user", org_b.agent_sh.pk),
        ("accounts", "skillgroup", group_b.pk),
        ("tenants", "tenant", org_b.tenant.pk),
    ]
    for app, model, pk in targets:
        change = reverse(f"manage:{app}_{model}_change", args=[pk])
        assert client.get(change).status_code == 404, change
        assert client.post(change, {"name": "hacked"}).status_code == 404, change
        changelist = client.get(reverse(f"manage:{app}_{model}_changelist"))
        assert changelist.status_code == 200
        assert f"/{pk}/change/" not in changelist.content.decode()
    org_b.east.refresh_from_db()
    assert org_b.east.name == "East"


def test_admin_changelist_for_supervisor_shows_subtree(org_a, client):
    client.force_login(org_a.sup_east)
    page = client.get(reverse("manage:accounts_user_changelist")).content.decode()
    assert org_a.agent_pd.username in page
    assert org_a.agent_south.username not in page
    assert client.get(reverse("manage:accounts_user_change", args=[org_a.agent_south.pk])).status_code == 404


def test_supervisor_disables_account_in_admin_and_it_cannot_log_in(org_a, client):
    client.force_login(org_a.sup_east)
    response = client.post(
        reverse("manage:accounts_user_changelist"), {"action": "disable_users", "_selected_action": [org_a.agent_pd.pk]}
    )
    assert response.status_code == 302
    org_a.agent_pd.refresh_from_db()
    assert not org_a.agent_pd.is_active
    assert AuditEntry.objects.filter(action="user.disable", object_id=str(org_a.agent_pd.pk)).exists()


def test_agents_cannot_enter_the_back_office(org_a, client):
    client.force_login(org_a.agent_sh)
    response = client.get("/manage/")
    assert response.status_code == 302 and "/manage/login/" in response["Location"]
