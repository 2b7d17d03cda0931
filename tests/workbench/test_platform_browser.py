"""The agent sees the customer's platform limits in the workbench: a WeChat Customer Service
conversation shows its 48-hour window and the replies left, counting down as the agent answers."""

from __future__ import annotations

import pytest

from apps.channels import services as channel_services
from apps.channels import wecom_services
from apps.channels.models import ChannelKind, DeliveryStatus, OutboundDelivery
from apps.conversations.models import Conversation
from tests.channels.conftest import _wecom_server, wecom, wecom_config  # noqa: F401  (fixtures)
from tests.workbench.browser import login, new_page, wait_until
from tests.workbench.conftest import off_loop

pytestmark = [pytest.mark.browser]


@off_loop
def _pull(channel_id):
    return wecom_services.pull(channel_id=channel_id)


def test_workbench_shows_the_reply_window_and_counts_replies_down(live_server_url, browser, fa, org_a, wecom):  # noqa: F811
    channel = channel_services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="微信客服",
        kind=ChannelKind.WECOM_KF,
        branch=org_a.sh,
        config=wecom_config(wecom.base_url),
    )
    wecom.state.customer_writes("wmBrowser", content="我的快递到哪了")
    assert _pull(channel.pk) == 1
    conversation = fa.assign(Conversation.objects.get(channel=channel), org_a.agent_sh)
    page = new_page(browser)
    login(page, live_server_url, org_a.agent_sh)
    page.evaluate(f"window.wbSelect({conversation.pk})")
    window = page.locator("#wb-customer .wb-reply-window")
    window.wait_for()
    assert "剩余 5 条" in window.text_content() and window.get_attribute("data-open") == "1"
    page.fill("#wb-input", "您好，正在为您查询")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#wb-customer .wb-reply-window').textContent.includes('剩余 4 条')")
    wait_until(lambda: OutboundDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 1)
    assert wecom.state.sent[-1]["text"] == {"content": "您好，正在为您查询"}
