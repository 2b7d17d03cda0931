"""Authentication: the login limit holds with forged X-Forwarded-For, per-account backoff,
password validators everywhere, the password reset flow, the demo page."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import time_machine
from django.core import mail
from django.test import Client

from apps.core.proxy import TrustedProxyMiddleware, client_address
from tests.conftest import PASSWORD
from tests.support.live import live_server_url  # noqa: F401


@pytest.mark.parametrize(
    "forwarded,trusted,expected",
    [
        ([], 0, "10.9.9.9"),
        (["1.2.3.4"], 0, "10.9.9.9"),  # no proxy trusted: the header is the client's own words
        (["6.6.6.6, 203.0.113.7"], 1, "203.0.113.7"),  # nginx appended the real client
        (["203.0.113.7"], 1, "203.0.113.7"),  # nginx replaced the header
        (["6.6.6.6", "203.0.113.7, 198.51.100.2"], 2, "203.0.113.7"),
        (["not-an-ip"], 1, "10.9.9.9"),
        ([], 1, "10.9.9.9"),
    ],
)
def test_client_address_trusts_exactly_the_configured_proxies(forwarded, trusted, expected):
    assert client_address(forwarded, "10.9.9.9", trusted) == expected


def test_the_asgi_scope_gets_the_trusted_address(settings):
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    settings.TRUSTED_PROXY_COUNT = 1
    scope = {
        "type": "http",
        "client": ("10.0.0.2", 5555),
        "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7"), (b"x-forwarded-proto", b"https")],
    }
    asyncio.run(TrustedProxyMiddleware(app)(scope, None, None))
    assert seen["client"] == ("203.0.113.7", 5555) and seen["scheme"] == "https"


def _login_attempt(client: httpx.Client, base: str, username: str, forged: str) -> int:
    page = client.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": "wrong-password-1", "csrfmiddlewaretoken": token},
        headers={"X-Forwarded-For": forged, "Referer": f"{base}/accounts/login/"},
    )
    return response.status_code


@pytest.mark.django_db(transaction=True)
def test_login_limit_holds_with_forged_forwarded_for(live_server_url, settings):  # noqa: F811
    """Through the real server (daphne + the ASGI middleware): a random X-Forwarded-For on every
    attempt does not reset the per-address limit."""
    limit = int(settings.LOGIN_RATE.split("/")[0])
    with httpx.Client(timeout=10) as client:
        codes = [
            _login_attempt(client, live_server_url, f"nobody{i}", f"198.51.100.{i}, 203.0.113.{i}")
            for i in range(limit + 1)
        ]
    assert codes[:limit] == [200] * limit and codes[limit] == 429


def test_per_account_backoff_holds_across_addresses(org_a, settings):
    settings.RATELIMIT_ENABLE = False  # the per-address limit is tested above: this is the account's
    user = org_a.agent_sh
    with time_machine.travel(1_900_000_000, tick=False) as clock:
        for i in range(settings.LOGIN_FREE_ATTEMPTS):
            client = Client(REMOTE_ADDR=f"203.0.113.{i}", HTTP_ACCEPT_LANGUAGE="en")
            response = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
            assert response.status_code == 200 and "_auth_user_id" not in client.session
        # The right password from a fresh address is refused while the account waits.
        client = Client(REMOTE_ADDR="198.51.100.77")
        response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
        assert "秒" in response.content.decode()
        # Another account is not affected.
        other = Client(REMOTE_ADDR="203.0.113.1")
        assert (
            other.post("/accounts/login/", {"username": org_a.agent_pd.username, "password": PASSWORD}).status_code
            == 302
        )
        clock.shift(3)
        response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302


def test_user_api_refuses_a_password_like_the_username(org_a, api_client):
    api_client.login(username=org_a.admin.username, password=PASSWORD)
    for password in ("zhangwei2026", "12345678", "short"):
        response = api_client.post(
            "/api/v1/users/",
            {"username": "zhangwei2026", "password": password, "role": "agent", "branch": org_a.sh.pk},
            format="json",
            HTTP_ACCEPT_LANGUAGE="en",
        )
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "weak_password"
    ok = api_client.post(
        "/api/v1/users/",
        {"username": "zhangwei2026", "password": "Lantern-orbit-58", "role": "agent", "branch": org_a.sh.pk},
        format="json",
    )
    assert ok.status_code == 201, ok.content


def test_password_reset_flow(org_a, settings):
    settings.RATELIMIT_ENABLE = False
    user = org_a.agent_sh
    user.email = "agent@example.com"
    user.save(update_fields=["email"])
    client = Client()
    assert b"password-reset" in client.get("/accounts/login/").content
    response = client.post("/accounts/password-reset/", {"email": "agent@example.com"})
    assert response.status_code == 302
    assert client.post("/accounts/password-reset/", {"email": "nobody@example.com"}).status_code == 302
    assert len(mail.outbox) == 1 and user.username in mail.outbox[0].body
    link = re.search(r"https?://[^/]+(/accounts/password-reset/[^\s]+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    weak = client.post(set_url, {"new_password1": user.username, "new_password2": user.username})
    assert weak.status_code == 200 and "error" in weak.content.decode()
    done = client.post(set_url, {"new_password1": "Harbour-violet-93", "new_password2": "Harbour-violet-93"})
    assert done.status_code == 302
    assert Client().login(username=user.username, password="Harbour-violet-93")
    assert client.get(link).context["validlink"] is False  # used once
