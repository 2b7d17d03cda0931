from __future__ import annotations

import pytest

from apps.accounts import services
from apps.accounts.models import AgentStatus
from apps.core.errors import ApplicationError
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_disabled_agent_cannot_log_in(org_a, client):
    assert (
        client.post("/accounts/login/", {"username": org_a.agent_sh.username, "password": PASSWORD}).status_code == 302
    )
    client.logout()
    services.user_set_active(user=org_a.agent_sh, active=False, actor=org_a.sup_east)
    response = client.post("/accounts/login/", {"username": org_a.agent_sh.username, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


def test_re_enabled_agent_can_log_in_again(org_a, client):
    services.user_set_active(user=org_a.agent_sh, active=False, actor=org_a.sup_east)
    services.user_set_active(user=org_a.agent_sh, active=True, actor=org_a.sup_east)
    assert (
        client.post("/accounts/login/", {"username": org_a.agent_sh.username, "password": PASSWORD}).status_code == 302
    )


def test_agent_of_disabled_branch_cannot_go_online(org_a, api_client):
    services.branch_set_enabled(branch=org_a.sh, enabled=False, actor=org_a.sup_east)
    # Pudong is under Shanghai: disabled through its ancestor.
    for agent in (org_a.agent_sh, org_a.agent_pd):
        api_client.force_authenticate(agent)
        response = api_client.post("/api/v1/me/status/", {"status": "online"}, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "branch_disabled"
        agent.refresh_from_db()
        assert agent.status == AgentStatus.OFFLINE


def test_disabling_a_branch_takes_its_online_agents_offline(org_a):
    services.agent_set_status(agent=org_a.agent_pd, status=AgentStatus.ONLINE)
    services.branch_set_enabled(branch=org_a.east, enabled=False, actor=org_a.admin)
    org_a.agent_pd.refresh_from_db()
    assert org_a.agent_pd.status == AgentStatus.OFFLINE
    services.branch_set_enabled(branch=org_a.east, enabled=True, actor=org_a.admin)
    services.agent_set_status(agent=org_a.agent_pd, status=AgentStatus.ONLINE)
    assert org_a.agent_pd.status == AgentStatus.ONLINE


def test_agent_chooses_max_chats_up_to_supervisor_cap(org_a, api_client):
    api_client.force_authenticate(org_a.agent_sh)
    assert api_client.post("/api/v1/me/max-chats/", {"max_chats": 3}, format="json").json()["max_chats"] == 3
    response = api_client.post("/api/v1/me/max-chats/", {"max_chats": 9}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "capacity_above_cap"
    org_a.agent_sh.refresh_from_db()
    assert org_a.agent_sh.max_chats == 3


def test_lowering_cap_lowers_the_agents_choice(org_a):
    services.user_update(user=org_a.agent_sh, actor=org_a.sup_east, max_chats_cap=2)
    org_a.agent_sh.refresh_from_db()
    assert (org_a.agent_sh.max_chats_cap, org_a.agent_sh.max_chats) == (2, 2)


def test_branch_cannot_move_under_its_own_subtree(org_a):
    with pytest.raises(ApplicationError) as exc:
        services.branch_update(branch=org_a.east, actor=org_a.admin, parent=org_a.pd, move=True)
    assert exc.value.code == "invalid_parent"


def test_tree_of_any_depth_scopes_by_path(org_a):
    deep = org_a.pd
    for level in range(6):
        deep = services.branch_create(tenant=org_a.tenant, name=f"L{level}", parent=deep, actor=org_a.sup_east)
    agent = org_a.user("deep", "agent", deep)
    assert org_a.sup_east.can_reach_branch(deep)
    assert not org_a.sup_south.can_reach_branch(deep)
    assert agent in type(agent).objects.visible_to(org_a.sup_east)
