"""The staff shell and the shared client module in Chromium against a live daphne."""

from __future__ import annotations

import os

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import live_server_url  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser]


def _page(browser, errors: list):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def test_supervisor_lands_on_the_live_overview_and_moves_between_sections(live_server_url, org_a):  # noqa: F811
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    errors: list[str] = []
    with chromium() as browser:
        page = _page(browser, errors)
        page.goto(f"{live_server_url}/accounts/login/")
        page.fill("input[name=username]", org_a.sup_east.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server_url}/supervisor/")
        page.wait_for_selector("#live-state[data-state=open]")
        assert page.text_content("#live-state") == "实时"
        assert page.locator(".sections a[aria-current=page]").text_content() == "主管中心"
        assert page.locator(".subnav a[aria-current=page]").text_content() == "概览"

        # Status from the user menu, on any page.
        page.click("#user-menu summary")
        page.select_option("#shell-status", "online")
        page.wait_for_selector("#shell-status-dot[data-status=online]")
        org_a.sup_east.refresh_from_db()
        assert org_a.sup_east.status == "online"

        # The sections are one click away; the back office wears the same header.
        page.keyboard.press("Escape")
        page.click(".sections a[data-section=manage]")
        page.wait_for_url(f"{live_server_url}/manage/")
        assert page.locator(".sections a[aria-current=page]").text_content() == "管理中心"
        page.click(".sections a[data-section=workbench]")
        page.wait_for_url(f"{live_server_url}/workbench/")
        page.wait_for_function("document.documentElement.dataset.wbReady === '1'")
        assert page.input_value("#wb-status") == "online"  # one status, wherever it was set

        # The language switch needs no inline handler.
        page.click("#user-menu summary")
        page.select_option("#user-menu select[name=language]", "en")
        page.wait_for_selector("html[lang=en]")
        assert page.locator(".sections a[aria-current=page]").text_content() == "Workbench"
    assert errors == []


def test_shared_client_module_checks_urls_tracks_seq_and_dispatches_by_type(live_server_url, db):  # noqa: F811
    errors: list[str] = []
    with chromium() as browser:
        page = _page(browser, errors)
        page.goto(f"{live_server_url}/accounts/login/")
        result = page.evaluate(
            """async () => {
              const k = await import('/static/js/kefu/client.js');
              const urls = ['/media/a.png', '//evil.example/x', 'javascript:alert(1)', 'data:text/html,x',
                            'https://cdn.example/a.png', 'HTTP://x.example/', '/\\\\evil', '', null, 'ftp://x/'];
              const log = new k.SeqLog(0);
              const seq = [log.add(1), log.add(2), log.add(2), log.gapBefore(4), log.gapBefore(3), log.last,
                           JSON.stringify(log.resumeFrame(7))];
              const seen = [];
              const h = new k.Handlers({'a': f => seen.push('a' + f.n)});
              h.on('a', f => seen.push('a2')).on('*', f => seen.push('*' + f.type));
              h.dispatch({type: 'event', event: {type: 'a', n: 1}});
              h.dispatch({type: 'b'});
              h.on('c', () => { throw new Error('one bad handler'); }).on('c', () => seen.push('c survives'));
              const oldError = console.error; console.error = () => {};
              h.dispatch({type: 'c'});
              console.error = oldError;
              return {urls: urls.map(k.safeUrl), seq, seen, fmt: k.fmt('%(a)s-%(b)s', {a: 1})};
            }"""
        )
    assert result["urls"] == [
        "/media/a.png",
        "",
        "",
        "",
        "https://cdn.example/a.png",
        "http://x.example/",
        "",
        "",
        "",
        "",
    ]
    assert result["seq"] == [True, True, False, True, False, 2, '{"type":"resume","conversation_id":7,"last_seq":2}']
    assert result["seen"] == ["a1", "a2", "*a", "*b", "c survives", "*c"]
    assert result["fmt"] == "1-"
    assert errors == []
