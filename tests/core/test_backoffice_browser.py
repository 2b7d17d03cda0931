"""A real browser logs in to the back office with a demo-style login (issue 2 acceptance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import live_server_url  # noqa: F401

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def page():
    with chromium() as browser:
        context = browser.new_context(locale="en-US")  # the UI must still be Chinese first
        yield context.new_page()


def test_supervisor_logs_in_to_back_office_in_chinese_and_sees_only_subtree(live_server_url, org_a, page):  # noqa: F811
    page.goto(f"{live_server_url}/manage/")
    page.fill("#id_username", org_a.sup_east.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server_url}/manage/")
    assert "管理中心" in page.content()
    page.goto(f"{live_server_url}/manage/accounts/user/")
    body = page.content()
    assert org_a.agent_pd.username in body and org_a.agent_south.username not in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "manage-users.png"), full_page=True)


def test_agent_login_is_refused_by_back_office(live_server_url, org_a, page):  # noqa: F811
    page.goto(f"{live_server_url}/manage/")
    page.fill("#id_username", org_a.agent_sh.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    assert "/manage/login/" in page.url
    assert "客服请使用工作台" in page.content() or "workbench" in page.content()
