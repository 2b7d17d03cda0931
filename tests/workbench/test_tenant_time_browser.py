"""The workbench shows the tenant's time, whatever the browser's zone, and says so when they differ."""

from __future__ import annotations

import zoneinfo

import pytest

from apps.messaging.models import Message
from tests.workbench.browser import login, new_page

pytestmark = [pytest.mark.browser]


@pytest.mark.parametrize("browser_zone", ["America/New_York", "Asia/Shanghai"])
def test_times_are_the_tenants_and_labelled_when_the_browser_differs(live_server_url, browser, fa, org_a, browser_zone):
    agent = org_a.agent_sh
    conv = fa.conversation(agent=agent, name="时区")
    fa.visitor_says(conv, "几点了")
    sent = Message.objects.filter(conversation=conv).latest("seq")
    page = new_page(browser, timezone_id=browser_zone)
    login(page, live_server_url, agent)
    page.evaluate(f"window.wbSelect({conv.pk})")
    page.wait_for_selector("#wb-messages .wb-msg-visitor time")
    shown = page.text_content("#wb-messages .wb-msg-visitor time").strip()
    tenant_time = sent.created_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert shown == tenant_time
    note = page.locator("#wb-zone")
    if browser_zone == "Asia/Shanghai":
        assert note.is_hidden()
    else:
        assert note.is_visible()
        assert "Asia/Shanghai" in note.text_content() and "America/New_York" in note.text_content()
