"""The main screens, photographed in Chromium on the lived-in demo tenant (tests/support/showcase.py):
`make screens` writes them to docs/screens/ for the README; a normal test run writes them to
test-artifacts/screens/. Each screen must load, show what it is for, and log no console error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import chromium
from tests.support.live import live_server_url  # noqa: F401  (fixture)
from tests.support.showcase import build

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "kefu-demo-2026"


@pytest.fixture(autouse=True)
def _frame_is_ours(settings):
    settings.WIDGET_FRAME_HOSTS = ["127.0.0.1"]  # before the server forks


def _context(browser, errors, *, width=1400, height=860, mobile=False):
    context = browser.new_context(
        locale="zh-CN", viewport={"width": width, "height": height}, timezone_id="Asia/Shanghai", is_mobile=mobile
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return page


def _login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


@pytest.mark.timeout(600)
def test_main_screens_load_and_are_photographed(live_server_url, transactional_db):  # noqa: F811
    show = build()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    out = Path(os.environ.get("KEFU_SCREENS_DIR") or ROOT / "test-artifacts" / "screens")
    out.mkdir(parents=True, exist_ok=True)
    base, errors, taken = live_server_url, [], []

    def shot(page, name, ready):
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"{name}.png"))
        taken.append(name)

    active, closed = show.conversations["active"], show.conversations["closed"]
    with chromium() as browser:
        page = _context(browser, errors)
        page.goto(f"{base}/accounts/login/")
        shot(page, "login", "input[name=username]")

        # The agent: their conversation open, the customer panel beside it.
        _login(page, base, show.users["agent_sh1"].username)
        page.wait_for_function("document.documentElement.dataset.wbReady === '1'")
        page.click(f"#wb-mine .wb-item[data-id='{active.pk}']")
        page.wait_for_selector("#wb-messages .wb-msg")
        shot(page, "workbench", "#wb-customer .wb-cust-name")
        page.goto(f"{base}/workbench/history/")
        shot(page, "workbench-history", "main")
        page.goto(f"{base}/workbench/stats/")
        shot(page, "workbench-stats", "main")
        page.context.close()

        # The supervisor centre.
        page = _context(browser, errors)
        _login(page, base, show.users["sup_east"].username)
        shot(page, "supervisor-home", "#live-state[data-state=open]")
        page.goto(f"{base}/supervisor/monitor/")
        shot(page, "supervisor-monitor", "#live-state[data-state=open]")
        page.goto(f"{base}/supervisor/reports/")
        shot(page, "supervisor-reports", "main table")
        page.goto(f"{base}/supervisor/history/")
        shot(page, "supervisor-history", "main table")
        page.goto(f"{base}/supervisor/conversations/{closed.pk}/")
        shot(page, "supervisor-conversation", "main")
        page.goto(f"{base}/supervisor/customers/{show.customers['li'].pk}/")
        shot(page, "supervisor-customer", "main")
        page.context.close()

        # The management centre.
        page = _context(browser, errors)
        _login(page, base, show.users["admin"].username)
        page.goto(f"{base}/manage/")
        shot(page, "manage-home", "#content")
        page.goto(f"{base}/manage/kf_channels/channel/{show.web.pk}/change/")
        shot(page, "manage-channel", "#channel_form")
        page.goto(f"{base}/manage/routing/routingrule/add/")
        shot(page, "manage-routing-rule", "table.kv-edit")
        page.context.close()

        # The visitor, on a phone: the bot answers first.
        page = _context(browser, errors, width=390, height=760, mobile=True)
        page.goto(f"{base}/widget/frame/?channel={show.web.key}")
        page.wait_for_selector("html[data-kf-connected='1']")
        page.fill("#kf-input", "运费怎么算？")
        page.press("#kf-input", "Enter")
        answered = "document.querySelectorAll('#kf-messages .kf-theirs').length > 1"
        page.wait_for_function(f"document.querySelector('.kf-prechat') || {answered}")
        if page.locator(".kf-prechat").count():
            page.fill(".kf-prechat input[name=name]", "陈女士")
            page.fill(".kf-prechat input[name=phone]", "13600001234")
            page.click(".kf-prechat button[type=submit]")
        page.wait_for_function(answered)
        shot(page, "visitor-widget", ".kf-theirs")
        page.context.close()

    assert errors == []
    assert len(taken) == 14
