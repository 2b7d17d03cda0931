"""AI assistance in Chromium: an agent transfers a conversation; the receiving agent accepts it
and sees the summary the company's AI provider (a local chat-completions server) wrote; they ask
for reply suggestions, click one into the composer, edit it and send it."""

from __future__ import annotations

import json

import pytest

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus
from apps.assist.models import ConversationSummary
from apps.conversations import services as conversation_services
from apps.messaging.models import Message
from tests.assist.ai_server import ChatCompletionsServer
from tests.assist.conftest import switch_on
from tests.workbench.browser import login, new_page, wait_until
from tests.workbench.conftest import off_loop

pytestmark = [pytest.mark.browser]


@pytest.fixture
def ai_server():
    server = ChatCompletionsServer()
    yield server
    server.close()


def test_the_receiver_sees_the_summary_and_sends_an_edited_suggestion(live_server_url, browser, fa, org_a, ai_server):
    sender, receiver = org_a.agent_sh, org_a.agent_pd
    off_loop(switch_on)(org_a, ai_server)
    off_loop(account_services.agent_set_status)(agent=receiver, status=AgentStatus.ONLINE)
    conv = fa.conversation(agent=sender, name="改地址的客户")
    fa.visitor_says(conv, "我想把收货地址改成上海市徐汇区")
    fa.agent_says(conv, sender, "好的，我请同事帮您处理")
    ai_server.reply = "客户要求把收货地址改为上海市徐汇区，尚未修改。"

    page = new_page(browser)
    login(page, live_server_url, receiver)
    off_loop(conversation_services.conversation_transfer_request)(
        conversation_id=conv.pk, actor=sender, to_agent_id=receiver.pk
    )
    assert wait_until(lambda: ConversationSummary.objects.filter(conversation=conv, status="ok").exists())
    page.locator("#wb-transfers li.wb-transfer .wb-accept").click()
    summary = page.locator("#wb-ai-summary")
    summary.wait_for()
    assert "上海市徐汇区，尚未修改" in summary.text_content() and "AI 摘要" in summary.text_content()

    ai_server.reply = json.dumps(["您好，地址已为您修改。", "请确认新地址：上海市徐汇区。"], ensure_ascii=False)
    page.locator("#wb-ai-suggest").click()
    chips = page.locator("#wb-ai-suggestions .wb-ai-suggestion")
    chips.nth(1).wait_for()
    assert chips.count() == 2
    chips.nth(1).click()
    assert page.input_value("#wb-input") == "请确认新地址：上海市徐汇区。"
    page.locator("#wb-input").press("End")
    page.locator("#wb-input").type("门牌号也请告诉我")
    page.press("#wb-input", "Enter")
    sent = wait_until(
        lambda: Message.objects.filter(conversation=conv, sender_user=receiver, sender_kind="agent").first()
    )
    assert sent.body == "请确认新地址：上海市徐汇区。门牌号也请告诉我"
    # Both calls carried this conversation's words.
    assert len(ai_server.requests) == 2
    assert all("我想把收货地址改成上海市徐汇区" in r["messages"][1]["content"] for r in ai_server.requests)
