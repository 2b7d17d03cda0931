"""Management-centre forms people can fill, in Chromium against a live daphne: the channel form shows
only the chosen kind's settings, and a routing rule's visitor attributes are rows of name and value
instead of JSON."""

from __future__ import annotations

import os

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import live_server_url  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser]


@pytest.fixture
def admin_page(live_server_url, org_a):  # noqa: F811
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    errors: list[str] = []
    with chromium() as browser:
        page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live_server_url}/accounts/login/")
        page.fill("input[name=username]", org_a.admin.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        yield page
    assert errors == []


def _shown(page, field: str) -> bool:
    return page.locator(f".form-row.field-{field}").is_visible()


def test_channel_form_shows_only_the_chosen_kinds_settings(live_server_url, org_a, admin_page):  # noqa: F811
    from apps.channels.models import Channel

    page = admin_page
    page.goto(f"{live_server_url}/manage/kf_channels/channel/add/")
    page.select_option("#id_kind", "partner")
    assert _shown(page, "cfg_api_key") and _shown(page, "cfg_webhook_url")
    assert not _shown(page, "cfg_app_id") and not _shown(page, "cfg_corp_id")
    assert not _shown(page, "allowed_origins_text") and not _shown(page, "cards_text")
    page.select_option("#id_kind", "web")
    assert _shown(page, "allowed_origins_text") and _shown(page, "prechat_fields") and _shown(page, "visitor_tracking")
    assert not _shown(page, "cfg_api_key") and not _shown(page, "cfg_app_id")
    assert not page.locator("fieldset", has=page.locator(".field-cards_text")).is_visible()  # nothing left in it
    page.select_option("#id_kind", "wechat")
    assert _shown(page, "cfg_app_id") and _shown(page, "cfg_encoding_aes_key")
    assert not _shown(page, "cfg_corp_id") and not _shown(page, "prechat_fields")

    # A saved channel's kind is fixed: its form has only its own settings, with no script needed.
    wechat = Channel.objects.create(
        tenant=org_a.tenant, name="公众号", kind="wechat", config={"app_id": "wx1", "app_secret": "s", "token": "t"}
    )
    page.goto(f"{live_server_url}/manage/kf_channels/channel/{wechat.pk}/change/")
    assert page.locator(".field-cfg_app_id").count() == 1
    for other in ("cfg_api_key", "cfg_corp_id", "allowed_origins_text", "prechat_fields", "cards_text"):
        assert page.locator(f".field-{other}").count() == 0, other
    page.fill("#id_name", "演示公众号")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    wechat.refresh_from_db()
    assert (wechat.name, wechat.config["app_id"], wechat.config["app_secret"]) == ("演示公众号", "wx1", "s")


def test_routing_rule_visitor_attributes_are_rows_of_name_and_value(live_server_url, org_a, admin_page):  # noqa: F811
    from apps.routing.models import RoutingRule

    page = admin_page
    page.goto(f"{live_server_url}/manage/routing/routingrule/add/")
    assert page.locator("textarea[name=attribute_conditions]").count() == 0  # no JSON to type
    page.fill("#id_name", "VIP 上海")
    page.fill("input[name=attribute_conditions_key_0]", "vip")
    page.fill("input[name=attribute_conditions_value_0]", "true")
    page.fill("input[name=attribute_conditions_key_1]", "province")
    page.fill("input[name=attribute_conditions_value_1]", "上海")
    page.fill("input[name=attribute_conditions_key_2]", "level")
    page.fill("input[name=attribute_conditions_value_2]", "3")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    rule = RoutingRule.objects.get(tenant=org_a.tenant, name="VIP 上海")
    assert rule.attribute_conditions == {"vip": True, "province": "上海", "level": 3}

    # Shown back as rows, with empty rows to add more; clearing a name removes the row.
    assert page.input_value("input[name=attribute_conditions_key_1]") == "province"
    assert page.input_value("input[name=attribute_conditions_value_0]") == "true"
    assert page.input_value("input[name=attribute_conditions_key_3]") == ""
    page.fill("input[name=attribute_conditions_key_2]", "")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    rule.refresh_from_db()
    assert rule.attribute_conditions == {"vip": True, "province": "上海"}
