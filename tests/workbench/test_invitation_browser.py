"""Proactive invitation in Chromium: an agent sees a visitor browsing the company's site, invites
them; the widget shows the invitation with the agent's name; the visitor answers and the agent
serves the conversation."""

from __future__ import annotations

import pytest

from apps.accounts.services import agent_set_status
from apps.channels import services as channel_services
from apps.channels.models import ChannelKind
from apps.conversations.models import Conversation
from apps.visitors.models import Invitation, Visit
from tests.channels.test_widget_browser import HostSite
from tests.workbench.browser import login, new_page, wait_until
from tests.workbench.conftest import off_loop

pytestmark = [pytest.mark.browser]


@pytest.fixture
def fast_widget(settings):
    # Before the live server forks: its pages (the chat frame) are ours, and pings come every second.
    settings.WIDGET_FRAME_HOSTS = ["127.0.0.1"]
    settings.VISITOR_PING_SECONDS = 1


def test_agent_invites_a_browsing_visitor_who_answers_into_a_served_conversation(
    fast_widget, live_server_url, browser, org_a
):
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
        site.pages["/index.html"] = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>运费价格</title></head>
<body><h1>运费价格</h1><script src="{live_server_url}/static/channels/widget.js" data-channel="{channel.key}" async></script>
</body></html>"""
        agent_user = org_a.agent_sh
        off_loop(agent_set_status)(agent=agent_user, status="online")

        visitor = new_page(browser)
        visitor.goto(site.origin + "/index.html")
        visit = wait_until(lambda: Visit.objects.filter(channel=channel).first())

        agent = new_page(browser)
        login(agent, live_server_url, agent_user)
        agent.click('.wb-tabs [data-tab="visitors"]')
        row = agent.locator(f'#wb-visitors [data-visit="{visit.pk}"]')
        row.wait_for()
        assert "运费价格" in row.text_content()
        agent.fill("#wb-invite-message", "您好，运费有疑问可以问我")
        row.locator(".wb-invite").click()
        wait_until(lambda: Invitation.objects.filter(visit=visit, agent=agent_user).exists())

        bubble = visitor.locator("kefu-widget .invite")
        bubble.wait_for(state="visible")
        assert bubble.locator("b").text_content() == agent_user.name
        assert bubble.locator("p").text_content() == "您好，运费有疑问可以问我"
        bubble.locator(".reply").click()

        chat = visitor.frame_locator("kefu-widget iframe")
        chat.locator(".kf-theirs .kf-text", has_text="您好，运费有疑问可以问我").wait_for()
        conversation = wait_until(lambda: Conversation.objects.filter(channel=channel).first())
        assert conversation.assignee_id == agent_user.pk and conversation.status == "active"
        chat.locator("#kf-input").fill("从上海寄到北京多少钱？")
        chat.locator("#kf-input").press("Enter")
        agent.locator(f"#wb-mine .wb-item[data-id='{conversation.pk}']").click()
        agent.locator("#wb-messages .wb-msg-visitor", has_text="从上海寄到北京多少钱？").wait_for()
        invitation = Invitation.objects.get(visit=visit)
        assert (invitation.status, invitation.conversation_id) == ("accepted", conversation.pk)
        assert Visit.objects.get(pk=visit.pk).customer_id == conversation.customer_id
    finally:
        site.close()
