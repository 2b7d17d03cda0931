"""The live monitor websocket: session auth, own-host origin, subtree scope, live updates."""

from __future__ import annotations

from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from apps.accounts.services import agent_set_status
from apps.channels.models import Channel
from apps.customers.models import Customer
from apps.routing.intake import conversation_intake
from config.asgi import application
from tests.conftest import PASSWORD  # noqa: F401
from tests.support.browser import chromium
from tests.support.live import live_server_url, session_cookie  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]


async def _monitor(user, origin=None):
    cookie = await sync_to_async(session_cookie)(user)
    headers = [(b"cookie", cookie.encode()), (b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(application, "/ws/monitor/", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    return comm, connected


async def _snapshot(comm, predicate=lambda s: True, timeout=20.0):
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        if frame["type"] == "monitor.snapshot" and predicate(frame["snapshot"]):
            return frame["snapshot"]


def _visitor_arrives(org, branch):
    channel = Channel.objects.filter(tenant=org.tenant, branch=branch).first() or Channel.objects.create(
        tenant=org.tenant, name=f"web-{branch.name}", branch=branch
    )
    customer = Customer.objects.create(tenant=org.tenant, display_name="访客")
    return conversation_intake(channel=channel, customer=customer)


@pytest.mark.smoke
async def test_monitor_updates_on_visitor_arrival_and_status_change_scoped_to_subtree(org_a):
    east, ok = await _monitor(org_a.sup_east)
    assert ok
    first = await _snapshot(east)
    assert first["conversations"]["queued"] == 0
    south, ok = await _monitor(org_a.sup_south)
    assert ok
    await _snapshot(south)
    conv = await sync_to_async(_visitor_arrives)(org_a, org_a.sh)
    snap = await _snapshot(east, lambda s: s["conversations"]["queued"] + s["conversations"]["active"] == 1)
    if snap["conversations"]["queued"]:
        assert [q["branch_id"] for q in snap["queues"]] == [conv.branch_id]
    await sync_to_async(agent_set_status)(agent=org_a.agent_pd, status="online")
    snap = await _snapshot(
        east, lambda s: any(a["id"] == org_a.agent_pd.pk and a["status"] == "online" for a in s["agents"])
    )
    assert org_a.agent_south.pk not in {a["id"] for a in snap["agents"]}
    # South saw the events too (same tenant group) but its snapshot has none of East's data.
    south_snap = await _snapshot(south)
    assert sum(south_snap["conversations"].values()) == 0
    assert {a["id"] for a in south_snap["agents"]} <= {org_a.sup_south.pk, org_a.agent_south.pk}
    # Drill down to a branch outside the scope: an error frame, the scope is unchanged.
    await south.send_json_to({"type": "drill", "branch_id": org_a.sh.pk})
    err = await south.receive_json_from(timeout=5)
    while err["type"] == "monitor.snapshot":  # throttled refreshes still in flight
        err = await south.receive_json_from(timeout=5)
    assert err["type"] == "error" and err["code"] == "not_found"
    await east.send_json_to({"type": "drill", "branch_id": org_a.pd.pk})
    drilled = await _snapshot(east, lambda s: s["branch_id"] == org_a.pd.pk)
    assert {a["id"] for a in drilled["agents"]} == {org_a.agent_pd.pk}
    await east.disconnect()
    await south.disconnect()


@pytest.mark.smoke
async def test_monitor_refuses_agents_anonymous_and_foreign_origins(org_a):
    _comm, ok = await _monitor(org_a.agent_sh)
    assert not ok
    _comm, ok = await _monitor(org_a.sup_east, origin="https://evil.example")
    assert not ok
    # The same rule as the chat sockets (apps.core.origins): our host name on another scheme or
    # port, or with a suffix, is not our origin.
    for origin in ("https://testserver", "http://testserver:8443", "http://testserver.evil.example"):
        _comm, ok = await _monitor(org_a.sup_east, origin=origin)
        assert not ok, origin
    comm = WebsocketCommunicator(application, "/ws/monitor/")
    connected, _ = await comm.connect(timeout=5)
    assert not connected
    comm, ok = await _monitor(org_a.sup_east, origin="http://testserver")
    assert ok
    await comm.disconnect()


def _in_thread(fn, *args, **kwargs):
    """Playwright's sync API runs an event loop in this thread; the ORM must run elsewhere."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.browser
def test_live_monitor_page_updates_when_a_visitor_arrives_and_an_agent_changes_status(live_server_url, org_a):  # noqa: F811
    from playwright.sync_api import expect

    cookie = session_cookie(org_a.sup_east)
    name, value = cookie.split("=", 1)
    with chromium() as browser:
        context = browser.new_context()
        context.add_cookies([{"name": name, "value": value, "url": live_server_url}])
        page = context.new_page()
        page.goto(f"{live_server_url}/supervisor/monitor/")
        page.wait_for_function("document.body.dataset.snapshots >= 1", timeout=10000)
        expect(page.locator("#n-queued")).to_have_text("0")
        _in_thread(_visitor_arrives, org_a, org_a.sh)
        page.wait_for_function(
            "Number(document.getElementById('n-queued').textContent) + "
            "Number(document.getElementById('n-active').textContent) === 1",
            timeout=10000,
        )
        _in_thread(agent_set_status, agent=org_a.agent_pd, status="online")
        expect(page.locator(f"tr[data-agent='{org_a.agent_pd.pk}']")).to_have_attribute(
            "data-status", "online", timeout=10000
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "supervisor-monitor.png"), full_page=True)
        browser.close()
