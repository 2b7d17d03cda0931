"""The supervisors' live visitor list: a page in the supervisor centre and /ws/visitors/, scoped to
the channels each person may see."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from apps.channels import services as channel_services
from apps.visitors import services
from config.asgi import application
from tests.support.live import session_cookie

SITE = "https://www.sf-demo.example"

pytestmark = [pytest.mark.django_db(transaction=True)]


def _web(org, name, branch):
    return channel_services.channel_create(
        tenant=org.tenant, actor=org.admin, name=name, kind="web", branch=branch, allowed_origins=[SITE]
    )


def _browse(channel, key, path, title):
    return services.page_view_record(
        channel=channel, visitor_key=key, url=f"{SITE}{path}", title=title, ip="114.114.114.114", origin=SITE
    )


async def _connect(user):
    cookie = await sync_to_async(session_cookie)(user)
    comm = WebsocketCommunicator(
        application, "/ws/visitors/", headers=[(b"cookie", cookie.encode()), (b"host", b"testserver")]
    )
    connected, _ = await comm.connect(timeout=5)
    return comm if connected else None


async def _snapshot(comm, timeout=5):
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == "visitors.snapshot":
            return frame["snapshot"]


@pytest.mark.asyncio
async def test_watchers_get_a_snapshot_of_their_channels_and_another_when_a_visitor_moves(org_a):
    sh = await sync_to_async(_web)(org_a, "上海官网", org_a.sh)
    south = await sync_to_async(_web)(org_a, "华南官网", org_a.south)
    await sync_to_async(_browse)(sh, "k" * 20, "/", "首页")
    await sync_to_async(_browse)(south, "s" * 20, "/", "华南首页")
    east = await _connect(org_a.sup_east)
    first = await _snapshot(east)
    assert [v["title"] for v in first["visitors"]] == ["首页"]
    assert [c["name"] for c in first["channels"]] == ["上海官网"]
    await sync_to_async(_browse)(sh, "k" * 20, "/price", "价格")
    moved = await _snapshot(east)
    assert [(v["title"], v["pages"], v["region"]) for v in moved["visitors"]] == [("价格", 2, "中国 江苏省 南京市")]
    # A page on a channel outside the supervisor's subtree wakes nobody there.
    await sync_to_async(_browse)(south, "s" * 20, "/x", "华南二")
    assert await east.receive_nothing(timeout=1.5)
    await east.send_to(text_data=json.dumps({"type": "filter", "channel_id": "x"}))
    assert (await east.receive_json_from(timeout=5))["code"] == "invalid_frame"
    await east.disconnect()
    anonymous = WebsocketCommunicator(application, "/ws/visitors/")
    connected, _ = await anonymous.connect(timeout=5)
    assert not connected


def test_supervisor_page_lists_visitors_and_agents_are_refused(client, org_a, org_b):
    sh = _web(org_a, "上海官网", org_a.sh)
    _browse(sh, "k" * 20, "/track", "<script>运单查询</script>")
    client.force_login(org_a.sup_east)
    page = client.get("/supervisor/visitors/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "上海官网" in body and "\\u003Cscript\\u003E" in body and "<script>运单" not in body
    client.force_login(org_a.agent_sh)
    assert client.get("/supervisor/visitors/").status_code == 403
    client.force_login(org_b.admin)
    other = client.get("/supervisor/visitors/").content.decode()
    assert "上海官网" not in other and "\\u003Cscript\\u003E" not in other
