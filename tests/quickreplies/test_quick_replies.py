import pytest

from apps.quickreplies.models import QuickReply

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]
URL = "/api/v1/workbench/quick-replies/"


def _titles(resp):
    return sorted(r["title"] for r in resp.json()["results"])


def test_agent_creates_personal_reply_that_only_they_see(api_client, org_a):
    api_client.force_login(org_a.agent_sh)
    resp = api_client.post(
        URL, {"title": "问候", "content": "您好，请问有什么可以帮您？", "shortcut": "hi"}, format="json"
    )
    assert resp.status_code == 201, resp.content
    assert resp.json()["scope"] == "personal" and resp.json()["editable"] is True
    assert _titles(api_client.get(URL)) == ["问候"]
    api_client.force_login(org_a.agent_pd)
    assert _titles(api_client.get(URL)) == []


def test_team_set_reaches_the_branch_and_everything_below_only(api_client, org_a):
    api_client.force_login(org_a.sup_east)
    resp = api_client.post(
        URL, {"title": "East", "content": "东区话术", "scope": "team", "branch_id": org_a.east.pk}, format="json"
    )
    assert resp.status_code == 201, resp.content
    api_client.force_login(org_a.admin)
    api_client.post(URL, {"title": "All", "content": "全公司话术", "scope": "team"}, format="json")
    api_client.force_login(org_a.agent_pd)  # Pudong is under East
    assert _titles(api_client.get(URL)) == ["All", "East"]
    api_client.force_login(org_a.agent_south)
    assert _titles(api_client.get(URL)) == ["All"]


def test_slash_search_matches_shortcut_title_and_content(api_client, org_a):
    api_client.force_login(org_a.agent_sh)
    for title, content, shortcut in [
        ("运单", "请提供运单号", "yd"),
        ("退款", "退款将在3个工作日内到账", "tk"),
        ("地址", "请确认收货地址", ""),
    ]:
        api_client.post(URL, {"title": title, "content": content, "shortcut": shortcut}, format="json")
    assert _titles(api_client.get(URL, {"q": "yd"})) == ["运单"]
    assert _titles(api_client.get(URL, {"q": "工作日"})) == ["退款"]
    assert _titles(api_client.get(URL, {"q": "地址"})) == ["地址"]


def test_agent_cannot_write_team_sets_or_touch_another_agents_reply(api_client, org_a):
    api_client.force_login(org_a.sup_east)
    team = api_client.post(
        URL, {"title": "T", "content": "team", "scope": "team", "branch_id": org_a.sh.pk}, format="json"
    ).json()
    api_client.force_login(org_a.agent_pd)
    mine = api_client.post(URL, {"content": "mine"}, format="json").json()
    api_client.force_login(org_a.agent_sh)
    resp = api_client.post(URL, {"content": "x", "scope": "team"}, format="json")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "permission_denied"
    assert api_client.patch(f"{URL}{team['id']}/", {"content": "hacked"}, format="json").status_code == 403
    assert api_client.delete(f"{URL}{mine['id']}/").status_code == 404
    assert QuickReply.objects.get(pk=team["id"]).content == "team"
    assert QuickReply.objects.filter(pk=mine["id"]).exists()


def test_supervisor_cannot_file_team_replies_outside_their_subtree(api_client, org_a):
    api_client.force_login(org_a.sup_south)
    resp = api_client.post(URL, {"content": "x", "scope": "team", "branch_id": org_a.east.pk}, format="json")
    assert resp.status_code == 404
    assert not QuickReply.objects.exists()
    # Without a branch a supervisor's team set lands in their own subtree, never tenant-wide.
    resp = api_client.post(URL, {"content": "x", "scope": "team"}, format="json")
    assert resp.status_code == 201 and resp.json()["branch_id"] == org_a.south.pk


def test_edit_in_place_and_delete_own_reply(api_client, org_a):
    api_client.force_login(org_a.agent_sh)
    rid = api_client.post(URL, {"title": "a", "content": "old"}, format="json").json()["id"]
    resp = api_client.patch(f"{URL}{rid}/", {"content": "new", "shortcut": "n"}, format="json")
    assert resp.status_code == 200 and resp.json()["content"] == "new" and resp.json()["shortcut"] == "n"
    assert api_client.post(f"{URL}{rid}/use/").status_code == 204
    assert QuickReply.objects.get(pk=rid).use_count == 1
    assert api_client.delete(f"{URL}{rid}/").status_code == 204
    assert not QuickReply.objects.exists()


def test_empty_or_oversized_content_is_a_clear_400_that_changes_nothing(api_client, org_a):
    api_client.force_login(org_a.agent_sh)
    resp = api_client.post(URL, {"content": "   "}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "quick_reply_empty"
    resp = api_client.post(URL, {"content": "x" * 2001}, format="json")
    assert resp.status_code == 400
    rid = api_client.post(URL, {"content": "keep"}, format="json").json()["id"]
    assert api_client.patch(f"{URL}{rid}/", {"content": ""}, format="json").status_code == 400
    assert QuickReply.objects.get(pk=rid).content == "keep"


def test_another_tenants_reply_is_404(api_client, org_a, org_b):
    api_client.force_login(org_b.admin)
    rid = api_client.post(URL, {"content": "b's", "scope": "team"}, format="json").json()["id"]
    api_client.force_login(org_a.admin)
    assert api_client.patch(f"{URL}{rid}/", {"content": "x"}, format="json").status_code == 404
    assert api_client.delete(f"{URL}{rid}/").status_code == 404
    assert api_client.post(f"{URL}{rid}/use/").status_code == 404
    assert _titles(api_client.get(URL)) == []


def test_quick_reply_list_is_a_constant_number_of_queries(api_client, org_a, django_assert_max_num_queries):
    api_client.force_login(org_a.agent_sh)
    for i in range(20):
        api_client.post(URL, {"content": f"reply {i}"}, format="json")
    with django_assert_max_num_queries(6):
        assert len(api_client.get(URL).json()["results"]) == 20


def test_back_office_lists_only_team_sets_of_the_supervisors_subtree(client, org_a):
    from apps.quickreplies import services

    services.quick_reply_create(actor=org_a.sup_east, content="east", title="east", team=True, branch=org_a.east)
    services.quick_reply_create(actor=org_a.sup_south, content="south", title="south", team=True, branch=org_a.south)
    services.quick_reply_create(actor=org_a.agent_sh, content="private", title="private")
    client.force_login(org_a.sup_east)
    resp = client.get("/manage/quickreplies/teamquickreply/")
    assert resp.status_code == 200
    body = resp.content.decode()
    assert "east" in body and "south" not in body and "private" not in body
