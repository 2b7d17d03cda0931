"""Collision in Chromium: the agent sees the supervisor who opened the same conversation; the
supervisor sees the agent typing, then holding an unsent draft, then only viewing once sent;
the customer's widget never hears of it (tests/workbench/test_collision.py)."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.workbench.browser import login, new_page

pytestmark = [pytest.mark.browser]


def _staff_login(page, base_url, user):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{base_url}/workbench/")
    page.wait_for_function("window.wbState !== undefined")


def _presence(page, text):
    page.wait_for_function(
        "t => { const b = document.getElementById('wb-presence'); return !b.hidden && b.textContent === t; }", arg=text
    )


def test_staff_on_the_same_conversation_see_each_other_typing(live_server_url, browser, fa, org_a):
    conv = fa.conversation(agent=org_a.agent_sh, name="两人同看")
    fa.visitor_says(conv, "在吗")
    agent = new_page(browser)
    login(agent, live_server_url, org_a.agent_sh)
    agent.evaluate(f"window.wbSelect({conv.pk})")
    agent.wait_for_function(f"window.wbState.convs.get({conv.pk}).subscribed === true")
    assert agent.locator("#wb-presence").is_hidden()

    sup = new_page(browser)
    _staff_login(sup, live_server_url, org_a.sup_east)
    sup.evaluate(f"window.wbSelect({conv.pk})")
    _presence(agent, "sup_east 正在查看")

    agent.click("#wb-input")
    agent.keyboard.type("您好，我这边")
    _presence(sup, "agent_sh 正在输入…")
    _presence(sup, "agent_sh 有未发送的草稿")  # stopped typing with text in the box
    agent.keyboard.press("Enter")
    _presence(sup, "agent_sh 正在查看")

    # The supervisor moves on: the agent's header clears.
    other = fa.conversation(agent=org_a.agent_pd, name="别处")
    sup.evaluate(f"window.wbSelect({other.pk})")
    agent.wait_for_function("document.getElementById('wb-presence').hidden")
