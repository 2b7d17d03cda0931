"""Shared bits of the workbench browser tests (Debian chromium via playwright's Python API)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Records desktop notifications and lets a test pretend the tab is hidden.
INIT_SCRIPT = """
window.__notifications = [];
window.__hidden = false;
Object.defineProperty(document, 'hidden', {configurable: true, get: function () { return window.__hidden; }});
window.Notification = function (title, opts) { window.__notifications.push({title: title, body: (opts || {}).body}); };
window.Notification.permission = 'granted';
window.Notification.requestPermission = function () { return Promise.resolve('granted'); };
window.__loads = (window.__loads || 0) + 1;
"""


@pytest.fixture
def browser():
    # Playwright's sync API keeps an event loop on this thread; the test still writes to the
    # database synchronously between browser steps (as a visitor would, from elsewhere).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with chromium() as b:
        yield b


PAGES: list = []  # (page, log) of the running test, dumped when it fails


def new_page(browser, timezone_id: str | None = None):
    extra = {"timezone_id": timezone_id} if timezone_id else {}
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 860}, **extra)
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(25_000)  # a loaded CI box; live paths usually take < 1 s
    log: list[str] = []

    def on_ws(ws):
        log.append(f"ws open {ws.url}")
        ws.on("framereceived", lambda payload: log.append(f"<< {str(payload)[:160]}"))
        ws.on("framesent", lambda payload: log.append(f">> {str(payload)[:160]}"))
        ws.on("close", lambda _ws: log.append("ws closed"))

    page.on("websocket", on_ws)
    page.on("console", lambda msg: log.append(f"console {msg.type}: {msg.text[:200]}"))
    PAGES.append((page, log))
    return page


def login(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/workbench/")
    page.wait_for_function("window.wbState !== undefined")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def bodies(page) -> list[str]:
    return page.eval_on_selector_all(
        "#wb-messages .wb-msg:not(.wb-msg-notice) .wb-body", "nodes => nodes.map(n => n.textContent)"
    )
