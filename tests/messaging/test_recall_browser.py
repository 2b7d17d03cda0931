"""Recall on both sides, in Chromium: the agent recalls a message from the workbench; the visitor's
widget replaces it with "消息已撤回" live; the supervisor's workbench shows the original on request.
(A client that was away catching up by seq: tests/messaging/test_recall.py.)"""

from __future__ import annotations

import pytest

from apps.channels import services as channel_services
from apps.channels.models import ChannelKind
from apps.conversations.models import Conversation
from apps.messaging.models import Message, MessageRecall
from tests.channels.test_widget_browser import HostSite
from tests.conftest import PASSWORD
from tests.workbench.browser import browser, login, new_page, wait_until  # noqa: F401  (fixture)
from tests.workbench.conftest import Factory, pytest_runtest_makereport  # noqa: F401  (page logs on failure)

pytestmark = [pytest.mark.browser]


@pytest.fixture
def frame_hosts(settings):
    settings.WIDGET_FRAME_HOSTS = ["127.0.0.1"]  # before the live server forks


def _host(site, kefu, key):
    site.pages["/index.html"] = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>店铺</title></head>
<body><h1>店铺</h1><script src="{kefu}/static/channels/widget.js" data-channel="{key}" async></script></body></html>"""
    return site.origin + "/index.html"


def test_agent_recalls_and_both_sides_show_it_recalled(frame_hosts, live_server_url, browser, org_a):  # noqa: F811
    fa = Factory(org_a)
    site = HostSite()
    try:
        channel = channel_services.channel_create(
            tenant=org_a.tenant,
            actor=org_a.admin,
            name="官网",
            kind=ChannelKind.WEB,
            branch=org_a.sh,
            allowed_origins=[site.origin],
        )
        home = _host(site, live_server_url, channel.key)
        visitor = new_page(browser)
        visitor.goto(home)
        visitor.locator("kefu-widget .launcher").click()
        chat = visitor.frame_locator("kefu-widget iframe")
        chat.locator("#kf-input").fill("我的快递到哪了")
        chat.locator("#kf-input").press("Enter")
        conv = wait_until(lambda: Conversation.objects.filter(channel=channel).first())
        fa.assign(conv, org_a.agent_sh)

        agent = new_page(browser)
        login(agent, live_server_url, org_a.agent_sh)
        agent.evaluate(f"window.wbSelect({conv.pk})")
        agent.wait_for_function(f"window.wbState.convs.get({conv.pk}).subscribed === true")
        agent.fill("#wb-input", "发错了：手机号 13800000000")
        agent.press("#wb-input", "Enter")
        sent = wait_until(lambda: Message.objects.filter(conversation=conv, sender_kind="agent").first())
        chat.locator(f".kf-row[data-seq='{sent.seq}']", has_text="13800000000").wait_for()
        assert agent.locator("#wb-recall-hint").is_hidden()  # a web channel: the recall reaches the customer

        link = agent.locator(f"#wb-messages .wb-msg[data-seq='{sent.seq}'] .wb-recall")
        link.click()
        agent.locator(f"#wb-messages .wb-msg-recalled[data-seq='{sent.seq}']").wait_for()
        assert "13800000000" not in agent.text_content("#wb-messages")
        assert "消息已撤回" in agent.text_content(f"#wb-messages .wb-msg[data-seq='{sent.seq}']")
        chat.locator(f".kf-recalled[data-seq='{sent.seq}']").wait_for()
        assert chat.locator(".kf-recalled").text_content() == "消息已撤回"
        assert "13800000000" not in chat.locator("#kf-messages").text_content()
        assert MessageRecall.objects.get(message=sent).body == "发错了：手机号 13800000000"

        # The branch's supervisor sees it recalled and may show the original.
        sup = new_page(browser)
        sup.goto(f"{live_server_url}/accounts/login/")
        sup.fill("input[name=username]", org_a.sup_east.username)
        sup.fill("input[name=password]", PASSWORD)
        sup.click("button[type=submit]")
        sup.wait_for_load_state()
        sup.goto(f"{live_server_url}/workbench/")
        sup.wait_for_function("window.wbState !== undefined")
        sup.evaluate(f"window.wbSelect({conv.pk})")
        node = sup.locator(f"#wb-messages .wb-msg-recalled[data-seq='{sent.seq}']")
        node.wait_for()
        node.locator(".wb-recall-original").click()
        node.locator(".wb-recalled-original", has_text="13800000000").wait_for()
    finally:
        site.close()
