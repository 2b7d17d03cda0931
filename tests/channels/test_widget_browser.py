"""The visitor widget in headless Chromium, embedded in a page served from another origin."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.browser import chromium
from tests.support.live import live_server_url  # noqa: F401

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Counts the chat's websockets so a test can cut them like a flaky network would.
INIT_SCRIPT = """
(function () {
  var Native = window.WebSocket;
  window.__kefuSockets = [];
  function Tracked(url, protocols) {
    var s = protocols ? new Native(url, protocols) : new Native(url);
    window.__kefuSockets.push(s);
    return s;
  }
  Tracked.prototype = Native.prototype;
  Tracked.CONNECTING = 0; Tracked.OPEN = 1; Tracked.CLOSING = 2; Tracked.CLOSED = 3;
  window.WebSocket = Tracked;
})();
"""

HOSTILE_CSS = """
* { font-size: 31px !important; color: red !important; line-height: 3 !important; letter-spacing: 9px !important;
    box-sizing: content-box !important; }
body { transform: translateX(-120px) scale(0.8); }
kefu-widget, div, button, iframe { display: none !important; width: 3px !important; height: 3px !important;
    position: static !important; opacity: 0.1 !important; }
iframe { visibility: hidden !important; }
"""


def _db(fn, *args, **kwargs):
    """Run a service in another thread: playwright's sync API keeps an event loop on this one,
    and publishing (async_to_sync) must not run inside it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_closing(fn), *args, **kwargs).result()


def _closing(fn):
    def run(*args, **kwargs):
        from django.db import connection

        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return run


def _wait(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = _db(predicate)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


class HostSite:
    """Another origin (http://localhost:PORT, the live server is http://127.0.0.1:PORT) with pages."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = site.pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str, *, kefu: str, key: str, css: str = "") -> str:
        self.pages[path] = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Shop</title>
<style>body {{ font-family: serif; }} {css}</style></head>
<body><h1>演示商城</h1><p>商品列表</p>
<script src="{kefu}/static/channels/widget.js" data-channel="{key}" async></script></body></html>"""
        return self.origin + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kefu(live_server_url):  # noqa: F811
    # The chat frame's own origin (http://127.0.0.1:<port>, the origin its websocket is opened to)
    # counts as ours: no setting needed.
    return live_server_url


@pytest.fixture
def host_site():
    site = HostSite()
    yield site
    site.close()


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)  # a loaded CI machine: assertions wait as long as actions
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as b:
        yield b


def _page(browser, *, width=1280, height=800):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def _channel(org, origins):
    from apps.channels import services
    from apps.channels.models import ChannelKind

    return _db(
        services.channel_create,
        tenant=org.tenant,
        actor=org.admin,
        name="官网客服",
        kind=ChannelKind.WEB,
        allowed_origins=origins,
        greeting="您好，欢迎咨询！",
    )


def _chat_frame(page):
    return next(f for f in page.frames if "/widget/frame/" in f.url)


def test_widget_on_another_origin_chats_with_an_agent_survives_a_drop_and_is_rated(kefu, host_site, org_a, browser):
    from apps.accounts.models import User
    from apps.conversations.models import Conversation, Rating
    from apps.conversations.services import conversation_assign, conversation_invite_rating
    from apps.messaging.services import message_create

    agent = org_a.agent_sh
    channel = _channel(org_a, [host_site.origin])
    page = _page(browser)
    page.goto(host_site.page("/shop.html", kefu=kefu, key=channel.key))
    page.locator("kefu-widget .launcher").click()
    chat = page.frame_locator("kefu-widget iframe")
    from playwright.sync_api import expect

    expect(chat.locator("#kf-company")).to_have_text(org_a.tenant.name)
    expect(chat.locator(".kf-greeting")).to_have_text("您好，欢迎咨询！")
    chat.locator("#kf-input").fill("你好，我的快递三天没动了")
    chat.locator("#kf-input").press("Enter")

    # Nobody is online: the visitor waits and sees their place in the queue.
    conversation = _wait(lambda: Conversation.objects.filter(channel_id=channel.pk).first())
    expect(chat.locator("#kf-banner")).to_have_attribute("data-position", "1")
    expect(chat.locator("#kf-banner")).to_contain_text("1")
    _wait(lambda: conversation.messages.filter(body="你好，我的快递三天没动了").exists())

    # An agent takes it and answers; markup in a message stays text.
    _db(lambda: User.objects.filter(pk=agent.pk).update(status="busy"))
    _db(conversation_assign, conversation_id=conversation.pk, agent_id=agent.pk, require_online=False)
    expect(chat.locator("#kf-banner")).to_be_hidden()
    from apps.messaging.services import typing_notify

    _db(typing_notify, conversation=conversation, sender_kind="agent", sender_name=agent.name, is_typing=True)
    expect(chat.locator("#kf-typing")).to_have_text("客服正在输入…")
    _db(
        message_create,
        conversation_id=conversation.pk,
        sender_kind="agent",
        sender_user=agent,
        body="<b>您好</b>，请提供单号<img src=x onerror=alert(1)>",
    )
    expect(chat.locator(".kf-theirs .kf-text").last).to_have_text("<b>您好</b>，请提供单号<img src=x onerror=alert(1)>")
    assert chat.locator(".kf-theirs .kf-text b").count() == 0
    chat.locator("#kf-input").fill("YT1234567890")
    chat.locator("#kf-send").click()
    _wait(lambda: conversation.messages.filter(body="YT1234567890", sender_kind="visitor").exists())

    # The connection drops; the agent writes meanwhile; the widget reconnects and catches up by seq.
    frame = _chat_frame(page)
    frame.evaluate("window.__kefuSockets.forEach(function (s) { s.close(4000, 'network lost'); })")
    _db(
        message_create,
        conversation_id=conversation.pk,
        sender_kind="agent",
        sender_user=agent,
        body="查到了，包裹明天派送",
    )
    expect(chat.locator(".kf-theirs .kf-text").last).to_have_text("查到了，包裹明天派送", timeout=15_000)
    assert frame.evaluate("window.__kefuSockets.length") >= 2
    texts = chat.locator(".kf-bubble .kf-text").all_text_contents()
    assert texts.count("查到了，包裹明天派送") == 1 and texts.count("YT1234567890") == 1  # no duplicates
    chat.locator("#kf-input").fill("谢谢")
    chat.locator("#kf-input").press("Enter")
    _wait(lambda: conversation.messages.filter(body="谢谢").count() == 1)

    # The agent asks for a rating; the visitor gives stars, a tag and a comment.
    _db(conversation_invite_rating, conversation_id=conversation.pk, actor=agent)
    expect(chat.locator(".kf-rating")).to_be_visible()
    chat.locator(".kf-star[data-score='5']").click()
    chat.locator(".kf-tag", has_text="回复及时").click()
    chat.locator(".kf-rating textarea").fill("很快就解决了")
    chat.locator(".kf-rating button[type=submit]").click()
    rating = _wait(lambda: Rating.objects.filter(conversation_id=conversation.pk).first())
    assert (rating.score, rating.tags, rating.comment, rating.agent_id) == (5, ["回复及时"], "很快就解决了", agent.pk)
    expect(chat.locator(".kf-rating")).to_have_count(0)
    # The agent ends the chat: the visitor is told and may start a new one.
    from apps.conversations.services import conversation_close

    _db(conversation_close, conversation_id=conversation.pk, actor=agent)
    expect(chat.locator("#kf-banner")).to_have_text(re.compile("会话已结束"))
    expect(chat.locator(".kf-newchat")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-chat.png"))


def _widget_geometry(page):
    launcher = page.locator("kefu-widget .launcher").bounding_box()
    panel = page.locator("kefu-widget .panel").bounding_box()
    chat = page.frame_locator("kefu-widget iframe")
    font = chat.locator("#kf-input").evaluate("e => getComputedStyle(e).fontSize")
    color = chat.locator("#kf-company").evaluate("e => getComputedStyle(e).color")
    return launcher, panel, font, color


def test_hostile_host_css_does_not_change_the_widget(kefu, host_site, org_a, browser):
    from playwright.sync_api import expect

    channel = _channel(org_a, [host_site.origin])
    results = []
    for name, css in (("plain", ""), ("hostile", HOSTILE_CSS)):
        page = _page(browser)
        page.goto(host_site.page(f"/{name}.html", kefu=kefu, key=channel.key, css=css))
        page.locator("kefu-widget .launcher").click()
        chat = page.frame_locator("kefu-widget iframe")
        expect(chat.locator("#kf-company")).to_have_text(org_a.tenant.name)
        expect(chat.locator("html")).to_have_attribute("data-kf-connected", "1")  # styles and script are in
        results.append(_widget_geometry(page))
        if name == "hostile":
            # The host page itself really is restyled (the CSS works), the widget is not.
            assert page.locator("h1").evaluate("e => getComputedStyle(e).fontSize") == "31px"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "widget-hostile-css.png"))
        page.context.close()
    (l1, p1, f1, c1), (l2, p2, f2, c2) = results
    assert l1 == l2 and p1 == p2
    assert (f1, c1) == (f2, c2) and f1 == "14px"
    assert p1["width"] == 370 and p1["height"] == 560


def test_small_screen_gets_a_full_screen_chat(kefu, host_site, org_a, browser):
    from playwright.sync_api import expect

    channel = _channel(org_a, [host_site.origin])
    page = _page(browser, width=390, height=844)
    page.goto(host_site.page("/m.html", kefu=kefu, key=channel.key))
    page.locator("kefu-widget .launcher").click()
    expect(page.frame_locator("kefu-widget iframe").locator("#kf-company")).to_have_text(org_a.tenant.name)
    box = page.locator("kefu-widget .panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}


def test_non_allowed_origin_is_refused(kefu, host_site, org_a, browser):
    from apps.customers.models import Customer

    channel = _channel(org_a, ["https://shop.example.com"])
    page = _page(browser)
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(host_site.page("/evil.html", kefu=kefu, key=channel.key))
    page.wait_for_timeout(1500)
    assert page.locator("kefu-widget").count() == 0  # no launcher at all
    assert any("kefu" in w for w in warnings)
    # Framing the chat by hand is refused by the browser (CSP frame-ancestors).
    page.evaluate(
        "(src) => { var f = document.createElement('iframe'); f.src = src; f.id = 'manual'; document.body.appendChild(f); }",
        f"{kefu}/widget/frame/?channel={channel.key}",
    )
    page.wait_for_timeout(1500)
    frames = [f for f in page.frames if "/widget/frame/" in f.url]
    assert all(f.evaluate("() => document.getElementById('kf-app') === null") for f in frames if f.url.startswith(kefu))
    assert _db(lambda: Customer.objects.count()) == 0  # no visitor session was opened


def test_frame_served_directly_is_the_mobile_h5_chat(kefu, org_a, browser):
    from playwright.sync_api import expect

    channel = _channel(org_a, [])
    page = _page(browser, width=390, height=844)
    page.goto(f"{kefu}/widget/frame/?channel={channel.key}")
    expect(page.locator("#kf-company")).to_have_text(org_a.tenant.name)
    expect(page.locator("html")).to_have_attribute("data-kf-connected", "1")
    assert re.search(r"kf-standalone", page.locator("html").get_attribute("class"))


def test_prechat_form_fills_in_the_customer_before_the_chat_starts(kefu, host_site, org_a, browser):
    from playwright.sync_api import expect

    from apps.channels import services
    from apps.channels.models import ChannelKind
    from apps.conversations.models import Conversation

    channel = _db(
        services.channel_create,
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="官网",
        kind=ChannelKind.WEB,
        allowed_origins=[host_site.origin],
        config={"prechat_fields": ["name", "phone"]},
    )
    page = _page(browser)
    page.goto(host_site.page("/pre.html", kefu=kefu, key=channel.key))
    page.locator("kefu-widget .launcher").click()
    chat = page.frame_locator("kefu-widget iframe")
    chat.locator("#kf-input").fill("我要改地址")
    chat.locator("#kf-send").click()
    expect(chat.locator(".kf-prechat")).to_be_visible()
    chat.locator(".kf-prechat input[name=name]").fill("王先生")
    chat.locator(".kf-prechat input[name=phone]").fill("13800138000")
    chat.locator(".kf-prechat button[type=submit]").click()
    conversation = _wait(lambda: Conversation.objects.filter(channel_id=channel.pk).first())
    _wait(lambda: conversation.messages.filter(body="我要改地址").exists())
    customer = _db(lambda: Conversation.objects.select_related("customer").get(pk=conversation.pk).customer)
    # The form is sent before the conversation starts, so the agent sees the name from the first message.
    assert (customer.display_name, customer.phone) == ("王先生", "13800138000")
    expect(chat.locator(".kf-prechat")).to_have_count(0)


def test_off_hours_visitor_leaves_a_message(kefu, host_site, org_a, browser):
    from django.utils import timezone
    from playwright.sync_api import expect

    from apps.routing.models import LeaveMessage, WorkingHours

    channel = _channel(org_a, [host_site.origin])
    tomorrow = (timezone.localtime().weekday() + 1) % 7  # service only on another day: closed now
    _db(WorkingHours.objects.create, tenant=org_a.tenant, weekday=tomorrow, start="09:00", end="18:00")
    page = _page(browser)
    page.goto(host_site.page("/night.html", kefu=kefu, key=channel.key))
    page.locator("kefu-widget .launcher").click()
    chat = page.frame_locator("kefu-widget iframe")
    expect(chat.locator(".kf-leave")).to_be_visible()
    chat.locator(".kf-leave input[name=contact]").fill("13900000000")
    chat.locator(".kf-leave textarea[name=content]").fill("明早请回电，谢谢")
    chat.locator(".kf-leave button[type=submit]").click()
    note = _wait(lambda: LeaveMessage.objects.filter(channel_id=channel.pk).first())
    assert (note.contact, note.content) == ("13900000000", "明早请回电，谢谢")
    expect(chat.locator(".kf-notice").last).to_have_text("感谢留言，我们会尽快联系您。")


def test_signed_identity_from_the_host_page_and_history_after_reload(kefu, host_site, org_a, browser):
    from playwright.sync_api import expect

    from apps.conversations.models import Conversation
    from apps.customers.services import identity_signature

    channel = _channel(org_a, [host_site.origin])
    ts = int(time.time())
    sig = identity_signature(secret=org_a.tenant.identity_secret, user_id="member-42", timestamp=ts)
    url = host_site.page("/member.html", kefu=kefu, key=channel.key)
    host_site.pages["/member.html"] = host_site.pages["/member.html"].replace(
        "async></script>",
        f'data-customer-id="member-42" data-customer-timestamp="{ts}" data-customer-signature="{sig}" '
        'data-customer-name="会员 李女士" async></script>',
    )
    page = _page(browser)
    page.goto(url)
    page.locator("kefu-widget .launcher").click()
    chat = page.frame_locator("kefu-widget iframe")
    chat.locator("#kf-input").fill("会员积分怎么用？")
    chat.locator("#kf-send").click()
    conversation = _wait(lambda: Conversation.objects.filter(channel_id=channel.pk).first())
    _wait(lambda: conversation.messages.exists())
    customer = _db(lambda: Conversation.objects.select_related("customer").get(pk=conversation.pk).customer)
    assert customer.display_name == "会员 李女士"
    assert _db(lambda: customer.identities.filter(kind="external", value="member-42").exists())
    # A reload (same browser) finds the open conversation and replays its history.
    page.reload()
    page.locator("kefu-widget .launcher").click()
    expect(chat.locator(".kf-mine .kf-text")).to_have_text(["会员积分怎么用？"])
    # Another device of the same member gets the same customer and conversation (signed identity).
    other = _page(browser)
    other.goto(url)
    other.locator("kefu-widget .launcher").click()
    expect(other.frame_locator("kefu-widget iframe").locator(".kf-mine .kf-text")).to_have_text(["会员积分怎么用？"])
