"""@mention in Chromium: an agent writes an internal note naming a colleague; the colleague's
workbench shows the mention live with a desktop notification, and one click opens the
conversation (which they could not see before), the note in it."""

from __future__ import annotations

import pytest

from apps.messaging.models import Mention, Message
from tests.workbench.browser import login, new_page, wait_until

pytestmark = [pytest.mark.browser]


def test_a_mentioned_colleague_is_notified_and_opens_the_conversation(live_server_url, browser, fa, org_a):
    author, colleague = org_a.agent_sh, org_a.agent_pd
    conv = fa.conversation(agent=author, name="要帮忙的客户")
    fa.visitor_says(conv, "我的包裹三天没动了")
    them = new_page(browser)
    login(them, live_server_url, colleague)
    me = new_page(browser)
    login(me, live_server_url, author)
    me.evaluate(f"window.wbSelect({conv.pk})")
    me.wait_for_function(f"window.wbState.convs.get({conv.pk}).subscribed === true")
    me.check("#wb-note")
    me.fill("#wb-input", f"@{colleague.name} 帮忙查一下这个件 <i>谢谢</i>")
    me.press("#wb-input", "Enter")
    note = wait_until(lambda: Message.objects.filter(conversation=conv, visibility="staff").first())
    assert note.sender_user_id == author.pk
    me.locator(f"#wb-messages .wb-msg-staff[data-seq='{note.seq}']").wait_for()
    wait_until(lambda: Mention.objects.filter(user=colleague).exists())

    item = them.locator("#wb-mentions li.wb-mention")
    item.wait_for()
    assert "agent_sh" in item.text_content() and "<i>谢谢</i>" in item.text_content()
    them.wait_for_function(f"window.wbNotifications.some(n => n.conversation_id === {conv.pk})")
    item.click()
    them.locator(f"#wb-messages .wb-msg-staff[data-seq='{note.seq}']").wait_for()
    assert "我的包裹三天没动了" in them.text_content("#wb-messages")
    wait_until(lambda: Mention.objects.get(user=colleague).read_at is not None)
    assert them.locator("#wb-mentions").is_hidden()
