"""Live visitor context in Chromium: a visitor browses two pages of the tenant's site and chats;
the agent's customer panel follows the visitor's navigation within a second."""

from __future__ import annotations

import time

import pytest

from apps.channels import services as channel_services
from apps.channels.models import ChannelKind
from apps.conversations.models import Conversation
from apps.visitors.models import Visit
from tests.channels.test_widget_browser import HostSite
from tests.workbench.browser import login, new_page, wait_until

pytestmark = [pytest.mark.browser]


def _host_page(site: HostSite, path: str, title: str, kefu: str, key: str) -> str:
    site.pages[path] = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><a id="next" href="/price.html">价格</a>
<script src="{kefu}/static/channels/widget.js" data-channel="{key}" async></script></body></html>"""
    return site.origin + path


@pytest.fixture
def frame_hosts(settings):
    settings.WIDGET_FRAME_HOSTS = ["127.0.0.1"]  # before the live server forks


def test_agent_panel_follows_the_visitor_across_pages_within_a_second(frame_hosts, live_server_url, browser, fa, org_a):
    site = HostSite()
    try:
        channel = channel_services.channel_create(
            tenant=org_a.tenant,
            actor=org_a.admin,
            name="上海官网",
            kind=ChannelKind.WEB,
            branch=org_a.sh,
            allowed_origins=[site.origin],
        )
        home = _host_page(site, "/index.html", "首页 - 顺丰演示", live_server_url, channel.key)
        _host_page(site, "/price.html", "运费价格表", live_server_url, channel.key)

        visitor = new_page(browser)
        visitor.goto(home)
        visit = wait_until(lambda: Visit.objects.filter(channel=channel).first())
        assert visit.current_title == "首页 - 顺丰演示" and visit.customer_id is None
        visitor.locator("kefu-widget .launcher").click()
        chat = visitor.frame_locator("kefu-widget iframe")
        chat.locator("#kf-input").fill("你好，想问下运费")
        chat.locator("#kf-input").press("Enter")
        conversation = wait_until(lambda: Conversation.objects.filter(channel=channel).first())
        wait_until(lambda: Visit.objects.get(pk=visit.pk).customer_id == conversation.customer_id)
        fa.assign(conversation, org_a.agent_sh)

        agent = new_page(browser)
        login(agent, live_server_url, org_a.agent_sh)
        agent.evaluate(f"window.wbSelect({conversation.pk})")
        browsing = agent.locator("#wb-customer .wb-browsing")
        browsing.wait_for()
        assert "首页 - 顺丰演示" in browsing.text_content() and browsing.get_attribute("data-online") == "1"

        reported: list[float] = []
        visitor.on(
            "request",
            lambda r: (
                reported.append(time.monotonic())
                if r.url.endswith("/api/v1/visitors/track/") and '"event":"page"' in (r.post_data or "")
                else None
            ),
        )
        visitor.click("#next")
        agent.wait_for_function(
            "document.querySelector('#wb-customer .wb-browsing').textContent.includes('运费价格表')", timeout=10_000
        )
        followed = time.monotonic() - reported[0]
        assert followed < 1.0, f"the panel followed after {followed:.2f} s"
        trail = agent.locator("#wb-customer .wb-visit[open] .wb-trail li").all_text_contents()
        assert len(trail) == 2 and "首页 - 顺丰演示" in trail[0] and "运费价格表" in trail[1]
        assert Visit.objects.get(pk=visit.pk).pages == 2
    finally:
        site.close()
