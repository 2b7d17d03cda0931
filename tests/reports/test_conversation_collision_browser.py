"""Collision on the supervisor centre's conversation page, in Chromium: the page shows the agent
viewing, then typing, then holding a draft; the agent's workbench shows the supervisor watching
from that page, and the indicator clears when the page is left."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.support.live import live_server_url  # noqa: F401  (fixture)
from tests.workbench.browser import login, new_page
from tests.workbench.conftest import (
    Factory,
    browser,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.browser]


@pytest.fixture
def fa(org_a):
    return Factory(org_a)


def _viewers(page, text):
    page.wait_for_function(
        "t => { const b = document.getElementById('conv-viewers'); return !b.hidden && b.textContent === t; }",
        arg=text,
    )


def test_the_supervisor_page_shows_who_else_is_on_the_conversation(live_server_url, browser, fa, org_a):  # noqa: F811
    conv = fa.conversation(agent=org_a.agent_sh, name="主管在看")
    fa.visitor_says(conv, "在吗")
    agent = new_page(browser)
    login(agent, live_server_url, org_a.agent_sh)
    agent.evaluate(f"window.wbSelect({conv.pk})")
    agent.wait_for_function(f"window.wbState.convs.get({conv.pk}).subscribed === true")

    sup = new_page(browser)
    sup.goto(f"{live_server_url}/accounts/login/")
    sup.fill("input[name=username]", org_a.sup_east.username)
    sup.fill("input[name=password]", PASSWORD)
    sup.click("button[type=submit]")
    sup.wait_for_load_state()
    sup.goto(f"{live_server_url}/supervisor/conversations/{conv.pk}/")
    _viewers(sup, "agent_sh 正在查看")
    agent.wait_for_function(
        "() => { const b = document.getElementById('wb-presence'); return !b.hidden && b.textContent === 'sup_east 正在查看'; }"
    )

    agent.click("#wb-input")
    agent.keyboard.type("稍等，我查一下")
    _viewers(sup, "agent_sh 正在输入…")
    _viewers(sup, "agent_sh 有未发送的草稿")

    sup.goto(f"{live_server_url}/supervisor/")  # leaves the conversation page
    agent.wait_for_function("document.getElementById('wb-presence').hidden")
