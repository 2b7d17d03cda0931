"""The workbench in headless Chromium against a live daphne: IM layer only (no dispatch needed):
conversations are assigned the way dispatch records it."""

from __future__ import annotations

import pytest

from apps.messaging.models import Message
from apps.quickreplies.models import QuickReply
from tests.workbench.browser import bodies, login, new_page, shot, wait_until

pytestmark = [pytest.mark.browser]

XSS_NAME = "<script>window.__xss_name=1</script>张三"
XSS_BODY = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def test_messages_both_ways_with_html_shown_as_text_and_quick_reply_by_slash(live_server_url, browser, fa, org_a):
    agent = org_a.agent_sh
    conv = fa.conversation(agent=agent, name=XSS_NAME)
    fa.visitor_says(conv, XSS_BODY)
    QuickReply.objects.create(
        tenant=org_a.tenant, owner=agent, title="运单查询", content="请提供您的运单号，我马上为您查询。", shortcut="yd"
    )
    page = new_page(browser)
    login(page, live_server_url, agent)
    item = page.locator(f"#wb-mine .wb-item[data-id='{conv.pk}']")
    assert item.locator(".wb-item-name").text_content() == XSS_NAME
    assert item.locator(".wb-badge").text_content() == "1"
    item.click()
    page.wait_for_selector("#wb-messages .wb-msg-visitor")
    assert bodies(page) == [XSS_BODY]
    assert page.locator("#wb-messages img").count() == 0
    assert page.evaluate("window.__xss === undefined && window.__xss_name === undefined")
    assert page.locator("#wb-conv-title").text_content() == XSS_NAME

    # Live from the visitor, including markup: shown as text.
    fa.visitor_says(conv, "<b>还在吗</b>")
    page.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length === 2")
    assert bodies(page)[-1] == "<b>还在吗</b>"

    # Enter sends, Shift+Enter makes a new line.
    page.click("#wb-input")
    page.keyboard.type("第一行")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("第二行")
    page.keyboard.press("Enter")
    sent = wait_until(lambda: Message.objects.filter(conversation=conv, sender_kind="agent").first())
    assert sent.body == "第一行\n第二行" and sent.sender_user_id == agent.pk
    page.wait_for_selector(f"#wb-messages .wb-msg-agent[data-seq='{sent.seq}']")

    # "/" opens the quick replies, Enter picks one, Enter sends it.
    page.keyboard.type("/yd")
    page.wait_for_selector("#wb-qr-popup .wb-qr-opt")
    shot(page, "workbench-quick-reply")
    page.keyboard.press("Enter")
    assert page.input_value("#wb-input") == "请提供您的运单号，我马上为您查询。"
    page.keyboard.press("Enter")
    wait_until(lambda: Message.objects.filter(conversation=conv, body="请提供您的运单号，我马上为您查询。").exists())
    wait_until(lambda: QuickReply.objects.get(shortcut="yd").use_count == 1)  # counted in the background
    # The customer panel: one click puts a waybill number from the chat in the composer.
    fa.visitor_says(conv, "运单号 SF1234567890123")
    page.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length === 3")
    page.click("#wb-messages")  # re-select to refresh the panel
    page.evaluate(f"window.wbSelect({conv.pk})")
    page.locator("#wb-customer .wb-v", has_text="SF1234567890123").click()
    assert page.input_value("#wb-input") == "SF1234567890123"
    shot(page, "workbench-conversation")
    assert page.evaluate("window.__loads") == 1


def test_new_message_alerts_with_desktop_notification_and_title_when_hidden(live_server_url, browser, fa, org_a):
    agent = org_a.agent_sh
    first, second = fa.conversation(agent=agent, name="甲"), fa.conversation(agent=agent, name="乙")
    page = new_page(browser)
    login(page, live_server_url, agent)
    page.evaluate(f"window.wbSelect({first.pk})")
    page.wait_for_function(f"window.wbState.convs.get({first.pk}).subscribed === true")
    page.evaluate("window.__hidden = true")
    fa.visitor_says(second, "有人吗")
    page.wait_for_function("window.__notifications.length === 1")
    assert page.evaluate("window.__notifications[0].body") == "有人吗"
    page.wait_for_function("document.title.indexOf('1') >= 0")
    assert page.locator(f"#wb-mine .wb-item[data-id='{second.pk}'] .wb-badge").text_content() == "1"
    assert page.evaluate("window.wbBeeps") >= 1  # the WebAudio beep played
    # Max chats above the supervisor's cap: refused with the reason, the value springs back.
    page.fill("#wb-max-chats", "99")
    page.dispatch_event("#wb-max-chats", "change")
    page.wait_for_selector("#wb-me-error:not([hidden])")
    assert page.input_value("#wb-max-chats") == "5"
    page.fill("#wb-max-chats", "3")
    page.dispatch_event("#wb-max-chats", "change")
    wait_until(lambda: agent.__class__.objects.get(pk=agent.pk).max_chats == 3)
    # Muted: no more desktop notifications.
    page.uncheck("#wb-alert-desktop")
    fa.visitor_says(second, "还在吗")
    page.wait_for_function(f"window.wbState.convs.get({second.pk}).unread === 2")
    assert page.evaluate("window.__notifications.length") == 1


def test_switching_between_20_conversations_never_reloads_or_loses_a_message(live_server_url, browser, fa, org_a):
    agent = org_a.agent_sh
    agent.max_chats_cap = 25
    agent.save(update_fields=["max_chats_cap"])
    convs = [fa.conversation(agent=agent, name=f"客户{i:02d}") for i in range(20)]
    for c in convs:
        fa.visitor_says(c, f"{c.pk}-0")
    page = new_page(browser)
    login(page, live_server_url, agent)
    assert page.locator("#wb-mine .wb-item").count() == 20
    for round_ in range(2):
        for i, c in enumerate(convs):
            page.locator(f"#wb-mine .wb-item[data-id='{c.pk}']").click()
            page.wait_for_function(f"window.wbState.convs.get({c.pk}).loaded")
            # Messages land in this one and in another while we switch around.
            fa.visitor_says(c, f"{c.pk}-{round_}-here")
            fa.visitor_says(convs[(i + 7) % 20], f"{convs[(i + 7) % 20].pk}-{round_}-elsewhere-{i}")
    for c in convs:
        page.locator(f"#wb-mine .wb-item[data-id='{c.pk}']").click()
        expected = list(Message.objects.filter(conversation=c).order_by("seq").values_list("body", flat=True))
        page.wait_for_function(
            "n => document.querySelectorAll('#wb-messages .wb-msg-visitor').length === n", arg=len(expected)
        )
        assert bodies(page) == expected
        seqs = page.eval_on_selector_all("#wb-messages .wb-msg", "ns => ns.map(n => Number(n.dataset.seq))")
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert page.evaluate("window.__loads") == 1  # never reloaded
    shot(page, "workbench-20-conversations")


def test_after_a_connection_drop_the_page_catches_up_by_seq_without_reload(live_server_url, browser, fa, org_a):
    agent = org_a.agent_sh
    conv = fa.conversation(agent=agent)
    fa.visitor_says(conv, "before")
    page = new_page(browser)
    login(page, live_server_url, agent)
    page.evaluate(f"window.wbSelect({conv.pk})")
    page.wait_for_function(f"window.wbState.convs.get({conv.pk}).subscribed === true")
    page.evaluate("window.wbDropSocket()")
    page.wait_for_selector("#wb-banner:not([hidden])")
    shot(page, "workbench-reconnecting")
    for i in range(3):
        fa.visitor_says(conv, f"during {i}")
    page.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length === 4")
    page.wait_for_selector("#wb-banner", state="hidden")
    fa.visitor_says(conv, "after")
    page.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length === 5")
    assert bodies(page) == ["before", "during 0", "during 1", "during 2", "after"]
    assert page.evaluate("window.__loads") == 1


def test_longest_waiting_customer_first_typing_read_state_and_image_upload(
    live_server_url, browser, fa, org_a, tmp_path
):
    import io

    from PIL import Image

    from tests.workbench.conftest import visitor_reads, visitor_typing

    agent = org_a.agent_sh
    a, b = fa.conversation(agent=agent, name="甲"), fa.conversation(agent=agent, name="乙")
    fa.visitor_says(b, "我先到的")
    fa.visitor_says(a, "我后到的")
    page = new_page(browser)
    login(page, live_server_url, agent)

    def order():
        return page.eval_on_selector_all("#wb-mine .wb-item", "ns => ns.map(n => Number(n.dataset.id))")

    assert order() == [b.pk, a.pk]  # F10: the customer who has waited longest comes first
    page.locator(f"#wb-mine .wb-item[data-id='{b.pk}']").click()
    page.wait_for_function(f"window.wbState.convs.get({b.pk}).subscribed === true")
    page.fill("#wb-input", "您好")
    page.press("#wb-input", "Enter")
    page.wait_for_function(f"document.querySelector('#wb-mine .wb-item').dataset.id === '{a.pk}'")

    visitor_typing(b)
    page.wait_for_function("document.getElementById('wb-typing').textContent.indexOf('乙') >= 0")
    page.wait_for_selector("#wb-messages .wb-msg-agent[data-seq]")
    visitor_reads(b)
    page.wait_for_selector("#wb-messages .wb-msg-agent.read")

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="PNG")
    png = tmp_path / "运单截图.png"
    png.write_bytes(buf.getvalue())
    page.set_input_files("#wb-file", str(png))
    page.wait_for_selector("#wb-messages .wb-msg-agent[data-seq] img")
    msg = wait_until(lambda: Message.objects.filter(conversation=b, content_type="image").first())
    # A private file: the stored path needs a credential, the page shows a signed link that loads.
    assert msg.payload["attachment"]["url"] == f"/files/attachments/{msg.payload['attachment']['id']}/"
    src = page.get_attribute("#wb-messages .wb-msg-agent img", "src")
    assert src.startswith(msg.payload["attachment"]["url"] + "?exp=")
    page.wait_for_function("() => document.querySelector('#wb-messages .wb-msg-agent img').naturalWidth === 40")
    shot(page, "workbench-image")


def test_search_day_separators_emoji_and_the_shortcut_list(live_server_url, browser, fa, org_a):
    import datetime as dt

    agent = org_a.agent_sh
    old = fa.conversation(agent=agent, name="王老板")
    fa.visitor_says(old, "上周的包裹 SF9988776655 破损了")
    fa.close(old)
    live = fa.conversation(agent=agent, name="李女士")
    earlier = fa.visitor_says(live, "前天问过一次")
    Message.objects.filter(pk=earlier.pk).update(created_at=earlier.created_at - dt.timedelta(days=2))
    fa.visitor_says(live, "今天再问一次")
    other = fa.conversation(agent=org_a.agent_pd, name="别人的客户")  # not mine: never found
    fa.visitor_says(other, "破损了怎么赔")

    page = new_page(browser)
    login(page, live_server_url, agent)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Day separators between the days of a conversation.
    page.locator(f"#wb-mine .wb-item[data-id='{live.pk}']").click()
    page.wait_for_function("document.querySelectorAll('#wb-messages .wb-msg-visitor').length === 2")
    days = page.eval_on_selector_all("#wb-messages .wb-day", "ns => ns.map(n => n.textContent)")
    assert len(days) == 2 and days[1] == "今天"

    # Search by what was said finds my past conversation (its transcript opens), not a colleague's.
    page.keyboard.press("Alt+k")
    page.keyboard.type("破损")
    page.wait_for_selector("#wb-search-results:not([hidden]) .wb-search-row")
    rows = page.eval_on_selector_all("#wb-search-results .wb-search-row", "ns => ns.map(n => Number(n.dataset.id))")
    assert rows == [old.pk]
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    opened.value.wait_for_load_state()
    assert opened.value.url.endswith(f"/workbench/history/{old.pk}/")
    opened.value.close()
    # By customer name: an open one of mine opens right here.
    page.fill("#wb-search", "李女")
    page.wait_for_selector(f"#wb-search-results .wb-search-row[data-id='{live.pk}']")
    page.keyboard.press("Enter")
    page.wait_for_function(f"location.hash === '#c{live.pk}'")

    # The emoji picker inserts at the cursor.
    page.fill("#wb-input", "好的")
    page.click("#wb-emoji")
    page.click("#wb-emoji-panel .wb-emoji-item[aria-label='🙏']")
    assert page.input_value("#wb-input") == "好的🙏"
    page.keyboard.press("Escape")

    # "?" outside a text field lists the shortcuts.
    page.click("#wb-messages")
    page.keyboard.press("?")
    page.wait_for_selector("#wb-dlg-keys[open]")
    assert "快捷键" in page.text_content("#wb-dlg-keys h2")
    shot(page, "workbench-shortcuts")
    page.keyboard.press("Escape")
    assert errors == []
