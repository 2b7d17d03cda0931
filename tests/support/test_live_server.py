"""The shared live server really serves the app on the test database."""

import httpx
import pytest

from tests.support.live import live_server_url, session_cookie  # noqa: F401

pytestmark = [pytest.mark.smoke]


def test_live_server_sees_committed_rows_and_session_cookie(live_server_url, org_a):  # noqa: F811
    anonymous = httpx.get(f"{live_server_url}/api/v1/me/")
    assert anonymous.status_code in (401, 403)
    response = httpx.get(f"{live_server_url}/api/v1/me/", headers={"Cookie": session_cookie(org_a.agent_sh)})
    assert response.status_code == 200, response.text
    assert response.json()["username"] == org_a.agent_sh.username
