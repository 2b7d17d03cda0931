"""Issue 5 acceptance, end to end against a live daphne with the real dispatch and IM layers:
a visitor (REST API) starts a conversation; an agent logs in, goes online, receives it with a
notification, messages go both ways, a quick reply goes in with "/", the conversation is
transferred to a second agent who accepts, who closes it with a tag and invites a rating; the
history page finds it by filter and exports it. Screenshots land in test-artifacts/."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from apps.accounts.models import Role
from apps.channels.models import Channel
from apps.conversations.models import Conversation, ConversationEvent, ConversationTag
from apps.messaging.models import Message
from apps.quickreplies.models import QuickReply
from tests.workbench.browser import bodies, login, new_page, shot, wait_until

pytestmark = [pytest.mark.browser]


class Visitor:
    """A customer's app talking to the public API (no browser, no Origin: an app channel)."""

    def __init__(self, base_url: str, channel_key: str):
        self.base = base_url
        session = self.call("POST", "/api/v1/visitor/sessions/", {"channel_key": channel_key}, auth=False)
        self.token = session["token"]

    def call(self, method: str, path: str, body=None, auth: bool = True):
        req = urllib.request.Request(
            self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None
        )
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept-Language", "zh-hans")
        if auth:
            req.add_header("Authorization", f"Visitor {self.token}")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def start(self) -> dict:
        return self.call("POST", "/api/v1/visitor/conversations/", {"subject": ""})

    def say(self, conversation_id: int, body: str) -> dict:
        return self.call(
            "POST",
            f"/api/v1/im/conversations/{conversation_id}/messages/",
            {"body": body, "client_msg_id": uuid.uuid4().hex},
        )

    def history(self, conversation_id: int) -> list[str]:
        data = self.call("GET", f"/api/v1/im/conversations/{conversation_id}/messages/?limit=200")
        return [m["body"] for m in data["messages"]]


def test_visitor_to_two_agents_to_history_export(live_server_url, browser, org_a):
    first = org_a.agent_sh
    second = org_a.user("agent_sh2", Role.AGENT, org_a.sh)
    channel = Channel.objects.create(tenant=org_a.tenant, name="官方App", kind="app", branch=org_a.sh)
    tag = ConversationTag.objects.create(tenant=org_a.tenant, name="物流查询")
    QuickReply.objects.create(
        tenant=org_a.tenant, owner=first, title="稍等", content="好的，请稍等，我帮您查一下。", shortcut="sd"
    )

    # 1. A visitor starts a conversation through the API; nobody is online yet: it waits.
    visitor = Visitor(live_server_url, channel.key)
    conv_id = visitor.start()["id"]
    visitor.say(conv_id, "你好，我的快递 SF1234567890123 到哪了？")
    assert Conversation.objects.get(pk=conv_id).status == "queued"

    # 2. The first agent logs in (invisible), sees it waiting, goes online and receives it.
    page = new_page(browser)
    login(page, live_server_url, first)
    assert page.input_value("#wb-status") == "invisible"
    page.wait_for_selector(f"#wb-queue .wb-item[data-id='{conv_id}']")
    shot(page, "acceptance-1-queue")
    page.evaluate("window.__hidden = true")  # the tab is in the background: desktop notification
    page.keyboard.press("F6")
    page.select_option("#wb-status", "online")
    page.wait_for_selector(f"#wb-mine .wb-item[data-id='{conv_id}']")
    page.wait_for_function("window.__notifications.length >= 1")
    assert Conversation.objects.get(pk=conv_id).assignee_id == first.pk
    page.evaluate("window.__hidden = false")

    # 3. Messages both ways.
    page.locator(f"#wb-mine .wb-item[data-id='{conv_id}']").click()
    page.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length >= 1")
    assert "你好，我的快递 SF1234567890123 到哪了？" in bodies(page)
    page.fill("#wb-input", "您好，我是客服小王。")
    page.press("#wb-input", "Enter")
    wait_until(lambda: "您好，我是客服小王。" in visitor.history(conv_id))
    visitor.say(conv_id, "好的<谢谢>")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#wb-messages .wb-body')).some(n => n.textContent === '好的<谢谢>')"
    )

    # 4. A quick reply with "/".
    page.click("#wb-input")
    page.keyboard.type("/sd")
    page.wait_for_selector("#wb-qr-popup .wb-qr-opt.active")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    wait_until(lambda: "好的，请稍等，我帮您查一下。" in visitor.history(conv_id))
    shot(page, "acceptance-2-conversation")

    # 5. Transfer to the second agent, who is online and accepts.
    page2 = new_page(browser)
    login(page2, live_server_url, second)
    page2.select_option("#wb-status", "online")
    wait_until(lambda: second.__class__.objects.get(pk=second.pk).status == "online")
    page.click("#wb-act-transfer")
    page.check(f"#wb-transfer-targets input[value='agent:{second.pk}']")
    page.fill("#wb-dlg-transfer input[name=note]", "客户问物流")
    page.click("#wb-dlg-transfer button[value=ok]")
    page2.wait_for_selector("#wb-transfers .wb-transfer")
    shot(page2, "acceptance-3-transfer-request")
    page2.click("#wb-transfers .wb-transfer .wb-accept")
    page2.wait_for_selector(f"#wb-mine .wb-item[data-id='{conv_id}'].active")
    wait_until(lambda: Conversation.objects.get(pk=conv_id).assignee_id == second.pk)
    page.wait_for_selector(f"#wb-mine .wb-item[data-id='{conv_id}']", state="detached")
    page2.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length >= 2")
    assert "好的，请稍等，我帮您查一下。" in bodies(page2)  # the whole history came along

    # 6. The second agent closes it with a tag and invites a rating.
    page2.click("#wb-act-close")
    page2.check(f"#wb-dlg-close input[name=tag][value='{tag.pk}']")
    shot(page2, "acceptance-4-close")
    page2.click("#wb-dlg-close button[value=ok]")
    wait_until(lambda: Conversation.objects.get(pk=conv_id).status == "closed")
    conv = Conversation.objects.get(pk=conv_id)
    assert list(conv.tags.values_list("name", flat=True)) == ["物流查询"]
    assert ConversationEvent.objects.filter(conversation_id=conv_id, kind="rating_invited").exists()

    # 7. The history page finds it by filter and exports it.
    customer_name = str(conv.customer)
    page2.goto(f"{live_server_url}/workbench/history/?tag={tag.pk}&satisfaction=none")
    page2.wait_for_selector(f"#history-table tr[data-id='{conv_id}']")
    page2.goto(f"{live_server_url}/workbench/history/?tag={tag.pk}&satisfaction=5")
    assert page2.locator(f"#history-table tr[data-id='{conv_id}']").count() == 0
    page2.goto(f"{live_server_url}/workbench/history/?tag={tag.pk}&channel={channel.pk}")
    page2.wait_for_selector(f"#history-table tr[data-id='{conv_id}']")
    page2.click("#export-box button[data-format=csv]")
    page2.wait_for_selector("#export-link:not([hidden])")
    assert page2.evaluate("document.getElementById('export-progress').value") == 100
    shot(page2, "acceptance-5-history-export")
    with page2.expect_download() as info:
        page2.click("#export-link")
    content = open(info.value.path(), encoding="utf-8-sig").read()
    assert customer_name in content and "物流查询" in content
    assert content.count("\n") >= 2  # header + this conversation
    page2.goto(f"{live_server_url}/workbench/history/{conv_id}/")
    assert "好的&lt;谢谢&gt;" in page2.content()
    shot(page2, "acceptance-6-transcript")
    assert Message.objects.filter(conversation_id=conv_id, sender_kind="agent").count() == 2

    # 8. My statistics count it for the second agent (received by transfer, closed).
    page2.goto(f"{live_server_url}/workbench/stats/")
    assert page2.text_content("#stats-range [data-k=received]") == "1"
    assert page2.text_content("#stats-range [data-k=closed]") == "1"
    shot(page2, "acceptance-7-my-statistics")
