"""The workbench shows service levels: time left per conversation coloured green / amber / red
(grey while waiting for the customer pauses the resolution clock), a breach alert arriving live,
waiting for the customer with its reminder, and follow-up tasks seen, completed and created.

The live server and the browser share this machine's clock; every instant here is placed
relative to the moment the conversation reached the queue, with minutes of margin either way,
so what the page shows does not depend on when the test runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation
from apps.reports.models import FollowUpTask
from apps.sla import services as sla_services
from apps.sla.models import SlaBreach, SlaClock
from tests.workbench.browser import login, new_page, shot, wait_until
from tests.workbench.conftest import off_loop

pytestmark = [pytest.mark.browser]

FIRST, RESOLUTION = 600, 7200  # seconds; warning at 50 %: amber 300 s before due


@pytest.fixture(autouse=True)
def _forget():
    sla_services.policies_forget()
    yield
    sla_services.policies_forget()


def _policy(org):
    sla_services.sla_policy_save(
        actor=org.admin,
        tenant_id=org.tenant.pk,
        name="全部",
        first_response_seconds=FIRST,
        resolution_seconds=RESOLUTION,
        warning_percent=50,
    )
    sla_services.policies_forget()


@off_loop
def _clock_from(conv, seconds_ago: int) -> SlaClock:
    """The conversation reached the queue `seconds_ago`; its clock started by the service."""
    Conversation.objects.filter(pk=conv.pk).update(queued_at=timezone.now() - dt.timedelta(seconds=seconds_ago))
    SlaClock.objects.filter(conversation_id=conv.pk).delete()
    return sla_services.sla_clock_start(conversation_id=conv.pk)


@off_loop
def _check():
    return sla_services.sla_check()


def _sla(page, conv_id):
    return page.locator(f"#wb-mine .wb-item[data-id='{conv_id}'] .wb-sla")


def test_time_left_is_coloured_and_a_breach_alerts_live(live_server_url, browser, fa, org_a):
    agent = org_a.agent_sh
    _policy(org_a)
    fresh, soon, late = (fa.conversation(agent=agent, name=n) for n in ("新来的", "快到期", "已超时"))
    _clock_from(fresh, 0)  # due in 600 s: green
    _clock_from(soon, 400)  # amber since 100 s, due in 200 s
    _clock_from(late, 700)  # due 100 s ago: red
    page = new_page(browser)
    login(page, live_server_url, agent)
    page.wait_for_function(f"document.querySelector(\"#wb-mine .wb-item[data-id='{late.pk}'] .wb-sla\") !== null")
    assert _sla(page, fresh.pk).get_attribute("data-sla") == "ok"
    assert _sla(page, soon.pk).get_attribute("data-sla") == "soon"
    assert _sla(page, late.pk).get_attribute("data-sla") == "late"
    assert _sla(page, fresh.pk).get_attribute("data-kind") == "first_response"
    colours = {
        st: page.eval_on_selector(
            f"#wb-mine .wb-item[data-id='{c.pk}'] .wb-sla", "n => getComputedStyle(n).backgroundColor"
        )
        for st, c in (("ok", fresh), ("soon", soon), ("late", late))
    }
    assert len(set(colours.values())) == 3  # three different colours
    assert "超时" in _sla(page, late.pk).text_content()
    shot(page, "sla-colours")

    # The breach job records the late one: the agent is alerted live, once.
    assert _check()["breaches"] == 1
    breach = SlaBreach.objects.get(conversation=late)
    assert breach.kind == "first_response" and breach.agent_id == agent.pk
    alert = page.locator(f"#wb-sla-alerts li[data-id='{late.pk}']")
    alert.wait_for()
    assert "已超时" in alert.text_content()
    page.wait_for_function(
        f"window.wbNotifications && window.wbNotifications.some(n => n.conversation_id === {late.pk})"
    )
    assert _check()["breaches"] == 0  # recorded once
    # "Open" goes to the conversation.
    alert.locator("button", has_text="打开").click()
    page.wait_for_function(f"window.wbState.current === {late.pk}")
    page.wait_for_function("document.getElementById('wb-conv-sla').dataset.sla === 'late'")

    # Answering the green one meets its first response: the list counts resolution from then on.
    page.evaluate(f"window.wbSelect({fresh.pk})")
    page.fill("#wb-input", "您好，请问有什么可以帮您？")
    page.press("#wb-input", "Enter")
    page.wait_for_function(
        f"document.querySelector(\"#wb-mine .wb-item[data-id='{fresh.pk}'] .wb-sla\").dataset.kind === 'resolution'"
    )
    assert _sla(page, fresh.pk).get_attribute("data-sla") == "ok"
    shot(page, "sla-breach-alert")


def test_waiting_pauses_the_resolution_clock_and_the_customer_wakes_it(live_server_url, browser, fa, org_a):
    agent = org_a.agent_sh
    _policy(org_a)
    conv = fa.conversation(agent=agent, name="等回复")
    _clock_from(conv, 60)
    fa.agent_says(conv, agent, "请把订单号发给我")  # first response met: resolution counts
    page = new_page(browser)
    login(page, live_server_url, agent)
    page.evaluate(f"window.wbSelect({conv.pk})")
    page.wait_for_function(
        f"document.querySelector(\"#wb-mine .wb-item[data-id='{conv.pk}'] .wb-sla\").dataset.kind === 'resolution'"
    )
    assert _sla(page, conv.pk).get_attribute("data-sla") == "ok"

    page.click("#wb-act-wait")
    page.select_option("#wb-dlg-wait select[name=remind]", "30")
    page.click("#wb-dlg-wait button[value=ok]")
    page.wait_for_function(
        f"document.querySelector(\"#wb-mine .wb-item[data-id='{conv.pk}']\").classList.contains('is-waiting')"
    )
    stored = Conversation.objects.get(pk=conv.pk)
    assert stored.waiting_since is not None
    assert dt.timedelta(minutes=29) < stored.remind_at - stored.waiting_since <= dt.timedelta(minutes=31)
    clock = SlaClock.objects.get(conversation=conv)
    assert clock.resolution_paused_at is not None and RESOLUTION - 120 < clock.resolution_left_s < RESOLUTION
    assert _sla(page, conv.pk).get_attribute("data-sla") == "paused"
    assert page.text_content("#wb-act-wait") == "恢复服务"
    shot(page, "sla-waiting")

    # The customer writes: back in service, the clock runs again with the time it had left.
    fa.visitor_says(conv, "订单号 123456")
    page.wait_for_function(
        f"!document.querySelector(\"#wb-mine .wb-item[data-id='{conv.pk}']\").classList.contains('is-waiting')"
    )
    page.wait_for_function(
        f"document.querySelector(\"#wb-mine .wb-item[data-id='{conv.pk}'] .wb-sla\").dataset.sla === 'ok'"
    )
    clock.refresh_from_db()
    assert clock.resolution_paused_at is None and clock.resolution_due > timezone.now()
    assert page.text_content("#wb-act-wait") == "等待客户回复"


def test_follow_ups_are_listed_completed_and_created_from_the_workbench(live_server_url, browser, fa, org_a):
    from apps.conversations.models import Rating
    from apps.reports.services import followup_create_for_rating

    agent = org_a.agent_sh
    done_conv = fa.conversation(agent=agent, name="不满意")
    fa.close(done_conv)
    rating = Rating.objects.create(tenant=org_a.tenant, conversation=done_conv, score=1, comment="太慢了", agent=agent)
    task = followup_create_for_rating(rating_id=rating.pk)
    FollowUpTask.objects.filter(pk=task.pk).update(assignee=agent)  # a supervisor handed it to this agent
    conv = fa.conversation(agent=agent, name="需回访")
    page = new_page(browser)
    login(page, live_server_url, agent)
    page.wait_for_function("document.getElementById('wb-followups-count').textContent === '1'")
    page.click(".wb-tabs [data-tab=followups]")
    item = page.locator(f"#wb-followups li[data-id='{task.pk}']")
    assert "太慢了" in item.text_content() and "不满意" in item.text_content()

    # Completing needs an outcome and a result: the server's refusal is shown, nothing changes.
    item.locator("button[type=submit]").click()
    item.locator(".wb-error-inline", has_text="结果").wait_for()
    assert FollowUpTask.objects.get(pk=task.pk).status == "open"
    item.locator("select[name=outcome]").select_option("resolved")
    item.locator("textarea[name=result]").fill("已电话致歉并补偿优惠券")
    item.locator("button[type=submit]").click()
    page.wait_for_function(f"!document.querySelector(\"#wb-followups li[data-id='{task.pk}']\")")
    task.refresh_from_db()
    assert task.status == "done" and task.outcome == "resolved" and task.result == "已电话致歉并补偿优惠券"

    # A new one on the current conversation, due tomorrow.
    page.evaluate(f"window.wbSelect({conv.pk})")
    page.click("#wb-fu-new")
    page.fill("#wb-dlg-followup textarea[name=note]", "<b>明天</b>确认退款是否到账")
    page.select_option("#wb-dlg-followup select[name=due]", "24")
    page.click("#wb-dlg-followup button[value=ok]")
    created = wait_until(lambda: FollowUpTask.objects.filter(conversation=conv).first())
    assert created.source == "manual" and created.assignee_id == agent.pk and created.created_by_id == agent.pk
    assert dt.timedelta(hours=23) < created.due_at - created.created_at <= dt.timedelta(hours=25)
    row = page.locator(f"#wb-followups li[data-id='{created.pk}']")
    row.wait_for()
    assert "<b>明天</b>确认退款是否到账" in row.text_content()  # markup shown as text
    shot(page, "followups-tab")
