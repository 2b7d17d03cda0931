"""The flows that used to strand people, in Chromium against a live daphne: waiting visitors see
their place move within a second; a supervisor takes over and leaves, the visitor is requeued and
told; a transfer to an offline agent is refused with the reason and offered as a queue; with the
bot answering first, the pre-chat form still comes and the notices come in their true order."""

from __future__ import annotations

import time

import pytest

from tests.channels.test_widget_browser import _db, _wait
from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import live_server_url  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser]


@pytest.fixture
def kefu(settings, live_server_url):  # noqa: F811
    return live_server_url


@pytest.fixture(autouse=True)
def _frame_is_ours(settings):
    settings.WIDGET_FRAME_HOSTS = ["127.0.0.1"]  # before the server forks


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium() as b:
        yield b


def _page(browser, errors: list, *, width=1280, height=820):
    page = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def _visitor(browser, errors, kefu, key, says: str):
    page = _page(browser, errors, width=390, height=720)
    page.goto(f"{kefu}/widget/frame/?channel={key}")
    page.wait_for_selector("html[data-kf-connected='1']")
    page.fill("#kf-input", says)
    page.press("#kf-input", "Enter")
    return page


def _staff(browser, errors, kefu, user, landing):
    page = _page(browser, errors)
    page.goto(f"{kefu}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{kefu}{landing}")
    return page


def _web_channel(org, **kw):
    from apps.channels import services
    from apps.channels.models import ChannelKind

    return _db(
        services.channel_create,
        tenant=org.tenant,
        actor=org.admin,
        name="官网",
        kind=ChannelKind.WEB,
        allowed_origins=[],
        **kw,
    )


def _settings(org, **kw):
    from apps.routing.models import DispatchSettings

    _db(lambda: DispatchSettings.objects.update_or_create(tenant=org.tenant, defaults=kw))


def _conversation_of(channel, body):
    from apps.conversations.models import Conversation

    return _wait(lambda: Conversation.objects.filter(channel_id=channel.pk, messages__body=body).first())


def test_queue_places_move_within_a_second_and_a_supervisor_who_leaves_strands_nobody(kefu, org_a, browser):
    import datetime as dt

    from django.utils import timezone
    from playwright.sync_api import expect

    from apps.accounts.models import User
    from apps.conversations.models import Conversation
    from apps.messaging import presence
    from apps.routing.models import AgentPresence
    from apps.routing.services import presence_sweep

    _settings(org_a, presence_grace_seconds=30)
    channel = _web_channel(org_a)
    errors: list[str] = []
    first = _visitor(browser, errors, kefu, channel.key, "第一位客户")
    conv_a = _conversation_of(channel, "第一位客户")
    second = _visitor(browser, errors, kefu, channel.key, "第二位客户")
    _conversation_of(channel, "第二位客户")

    # Nobody can serve: no invented wait, a way to leave a message instead.
    expect(second.locator("#kf-banner")).to_have_attribute("data-position", "2")
    expect(second.locator("#kf-banner")).to_have_attribute("data-agents-online", "0")
    expect(second.locator("#kf-banner")).to_contain_text("暂无客服在线")
    expect(second.locator("#kf-banner button")).to_have_text("留言")

    # An agent comes and is busy (takes by hand): the visitors hear somebody can serve.
    agent = org_a.agent_sh
    desk = _staff(browser, errors, kefu, agent, "/workbench/")
    desk.select_option("#wb-status", "busy")
    expect(second.locator("#kf-banner")).to_have_attribute("data-agents-online", "1")
    desk.wait_for_selector(f"#wb-queue .wb-item[data-id='{conv_a.pk}'] .wb-accept")

    # The agent takes the first from the queue: the second's place moves within a second.
    started = time.monotonic()
    desk.click(f"#wb-queue .wb-item[data-id='{conv_a.pk}'] .wb-accept")
    expect(second.locator("#kf-banner")).to_have_attribute("data-position", "1", timeout=5_000)
    moved_after = time.monotonic() - started
    # Only a push moves it (the widget does not poll the queue): well under a second on a quiet
    # machine; the bound leaves room for a loaded CI box.
    assert moved_after < 3.0, f"the second visitor's place moved after {moved_after:.2f} s"
    expect(first.locator(".kf-notice").last).to_have_text(f"{agent.name} 为您服务。")
    expect(first.locator("#kf-banner")).to_be_hidden()

    # A supervisor, invisible, takes the first over from the supervisor centre.
    sup = org_a.sup_east
    centre = _staff(browser, errors, kefu, sup, "/supervisor/")
    centre.goto(f"{kefu}/supervisor/conversations/{conv_a.pk}/")
    centre.wait_for_selector("#live-state[data-state=open]")
    centre.click("form:has(input[value=take_over]) button[type=submit]")
    expect(centre.locator("ul.flash li")).to_contain_text("忙碌")
    assert _db(lambda: User.objects.get(pk=sup.pk).status) == "busy"
    expect(first.locator(".kf-notice").last).to_have_text(f"{sup.name} 为您服务。")
    # The supervisor leaves (closes every page): past the grace period the visitor is back in the
    # queue, told so, and sees their place.
    centre.context.close()
    _wait(
        lambda: (
            presence.live_connections(presence.agent_key(sup.pk)) == 0
            and AgentPresence.objects.get(agent_id=sup.pk).disconnected_at is not None
        )
    )
    assert _db(lambda: Conversation.objects.get(pk=conv_a.pk).assignee_id) == sup.pk  # within the grace period
    # The beat job runs after the grace period (here: at a time 31 s ahead).
    _db(lambda: presence_sweep(now=timezone.now() + dt.timedelta(seconds=31)))
    assert _db(lambda: User.objects.get(pk=sup.pk).status) == "offline"
    _wait(lambda: Conversation.objects.get(pk=conv_a.pk).status == "queued")
    expect(first.locator(".kf-notice").last).to_have_text("客服已离开，正在为您重新排队，请稍候。")
    expect(first.locator("#kf-banner")).to_have_attribute("data-position", "1")  # waited longest
    expect(second.locator("#kf-banner")).to_have_attribute("data-position", "2")
    assert errors == []


def test_transfer_dialog_shows_who_can_take_it_refuses_offline_agents_and_offers_a_queue(kefu, org_a, browser):
    from playwright.sync_api import expect

    from apps.accounts.models import Role, SkillGroup
    from apps.accounts.services import agent_set_status
    from apps.conversations.models import Conversation
    from apps.messaging.models import Message

    channel = _web_channel(org_a)
    helper = org_a.user("helper", Role.AGENT, org_a.sh)
    _db(agent_set_status, agent=helper, status="busy")
    group = _db(lambda: SkillGroup.objects.create(tenant=org_a.tenant, name="投诉处理"))
    _db(lambda: group.members.add(org_a.agent_pd))  # offline: nobody in the group can take it now
    errors: list[str] = []
    agent = org_a.agent_sh
    desk = _staff(browser, errors, kefu, agent, "/workbench/")
    desk.select_option("#wb-status", "online")
    visitor = _visitor(browser, errors, kefu, channel.key, "我要投诉")
    conv = _conversation_of(channel, "我要投诉")
    desk.wait_for_selector(f"#wb-mine .wb-item[data-id='{conv.pk}']")
    desk.click(f"#wb-mine .wb-item[data-id='{conv.pk}']")
    desk.click("#wb-act-transfer")

    offline = desk.locator(f"#wb-transfer-targets input[value='agent:{org_a.agent_pd.pk}']")
    expect(offline).to_be_disabled()
    row = desk.locator(f"#wb-transfer-targets label:has(input[value='agent:{org_a.agent_pd.pk}'])")
    expect(row).to_contain_text("离线")
    expect(row).to_contain_text("0 / 5")
    ready = desk.locator(f"#wb-transfer-targets label:has(input[value='agent:{helper.pk}'])")
    expect(ready).to_contain_text("忙碌")
    expect(desk.locator(f"#wb-transfer-targets input[value='group:{group.pk}']")).to_have_count(0)
    desk.screenshot(path="test-artifacts/workbench-transfer-dialog.png")
    # Asked anyway (another tab, an old page): refused with the reason, nothing changes.
    refused = desk.evaluate(
        """async ([id, to]) => {
          const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
          const r = await fetch(`/api/v1/conversations/${id}/transfer/`, {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf}, body: JSON.stringify({to_agent: to})});
          return [r.status, (await r.json()).error.message];
        }""",
        [conv.pk, org_a.agent_pd.pk],
    )
    assert refused[0] == 409 and "离线" in refused[1]
    assert _db(lambda: Conversation.objects.get(pk=conv.pk).status) == "active"

    # Offered instead: the queue of the group.
    desk.check(f"#wb-transfer-targets input[value='queue:{group.pk}']")
    desk.fill("#wb-dlg-transfer input[name=note]", "客户要投诉")
    desk.click("#wb-dlg-transfer button[value=ok]")
    desk.wait_for_selector(f"#wb-mine .wb-item[data-id='{conv.pk}']", state="detached")
    moved = _db(lambda: Conversation.objects.get(pk=conv.pk))
    assert (moved.status, moved.skill_group_id, moved.assignee_id) == ("queued", group.pk, None)
    expect(visitor.locator(".kf-notice").last).to_have_text("正在为您转接其他客服，请稍候。")
    note = _db(lambda: Message.objects.filter(conversation_id=conv.pk, visibility="staff").last())
    assert "客户要投诉" in note.body
    assert errors == []


def test_bot_first_with_the_prechat_form_and_notices_in_their_true_order(kefu, org_a, browser):
    from playwright.sync_api import expect

    from apps.accounts.services import agent_set_status

    channel = _web_channel(org_a, bot_enabled=True, config={"prechat_fields": ["name", "phone"]})
    _db(agent_set_status, agent=org_a.agent_sh, status="online")
    errors: list[str] = []
    page = _page(browser, errors, width=390, height=720)
    page.goto(f"{kefu}/widget/frame/?channel={channel.key}")
    page.wait_for_selector("html[data-kf-connected='1']")
    page.fill("#kf-input", "你好")
    page.press("#kf-input", "Enter")
    expect(page.locator(".kf-prechat")).to_be_visible()  # the bot answers first, the form still comes
    page.fill(".kf-prechat input[name=name]", "王先生")
    page.fill(".kf-prechat input[name=phone]", "13800138000")
    page.click(".kf-prechat button[type=submit]")
    expect(page.locator(".kf-theirs").last).to_be_visible()
    page.fill("#kf-input", "转人工")
    page.press("#kf-input", "Enter")
    expect(page.locator(".kf-notice").last).to_have_text(f"{org_a.agent_sh.name} 为您服务。")
    texts = page.locator("#kf-messages .kf-text, #kf-messages .kf-notice").all_text_contents()
    handoff = next(i for i, t in enumerate(texts) if "人工" in t and i > texts.index("转人工"))
    served = texts.index(f"{org_a.agent_sh.name} 为您服务。")
    assert texts.index("转人工") < handoff < served, texts  # the bot's words first, then who serves
    assert not any("手机号" in t for t in texts)  # the phone from the form counts: not asked again
    page.screenshot(path="test-artifacts/widget-bot-prechat-order.png")

    # The agent sees the customer by the name they gave, never an id.
    desk = _staff(browser, errors, kefu, org_a.agent_sh, "/workbench/")
    item = desk.locator("#wb-mine .wb-item").first
    expect(item.locator(".wb-item-name")).to_have_text("王先生")
    item.click()
    expect(desk.locator("#wb-conv-title")).to_have_text("王先生")
    expect(desk.locator("#wb-customer .wb-kv", has_text="电话")).to_have_count(1)  # once, with its label
    assert errors == []
