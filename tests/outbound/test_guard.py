"""The guarded client refuses internal addresses after DNS resolution and on every redirect;
webhooks carry one signature format and are retried with backoff."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from apps.core.errors import ApplicationError
from apps.outbound import webhooks
from apps.outbound.guard import OutboundRefused, address_allowed, guarded_request, validate_url
from apps.outbound.models import WebhookDelivery


class Endpoint:
    """A tenant's HTTP endpoint on 127.0.0.1: answers from a script of status codes (then 200),
    or redirects every request to `redirect_to`."""

    def __init__(self, statuses=(), redirect_to: str | None = None):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                endpoint.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.3.4.5",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert not address_allowed(address)
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(OutboundRefused):
        guarded_request("GET", f"http://{host}:9/x", timeout=1)


def test_public_addresses_pass_the_check_and_the_allowlist_opens_a_network(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert address_allowed("93.184.215.14") and address_allowed("2606:4700::1111")
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert address_allowed("10.20.3.4") and not address_allowed("10.21.0.1")


def test_names_are_checked_after_resolution(settings, endpoint, monkeypatch):
    """localhost, a decimal IP and a public-looking name that resolves inside are all refused;
    the socket goes to the address that was checked."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    for url in ("http://localhost:9/", "http://2130706433:9/", "http://0x7f000001:9/"):
        with pytest.raises(OutboundRefused):
            guarded_request("GET", url, timeout=1)
    real = socket.getaddrinfo
    answers = {"hooks.tenant.example": "127.0.0.1"}

    def fake_dns(host, *args, **kwargs):  # the only stand-in: DNS answers for a name we own here
        return real(answers.get(host, host), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    port = endpoint.server.server_port
    with pytest.raises(OutboundRefused):
        guarded_request("GET", f"http://hooks.tenant.example:{port}/hook", timeout=2)
    assert endpoint.requests == []
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    assert guarded_request("GET", f"http://hooks.tenant.example:{port}/hook", timeout=2).status_code == 200
    assert endpoint.requests[-1]["headers"]["Host"] == f"hooks.tenant.example:{port}"


@pytest.mark.parametrize("client", ["httpx", "requests"])
def test_a_name_that_rebinds_to_an_internal_address_after_the_check_is_never_reached(
    client, settings, endpoint, monkeypatch
):
    """DNS rebinding: the name answers an allowed address for the first lookup and the internal
    endpoint's address afterwards. Both clients (httpx for webhooks, requests for wechatpy)
    connect only to an address checked at connect time, so the endpoint sees nothing."""
    import requests

    from apps.outbound.guard import guard_requests_session

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]  # stands for "a public address"
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding_dns(host, *args, **kwargs):
        if host != "api.rebind.example":
            return real(host, *args, **kwargs)
        lookups.append(host)
        return real("127.0.0.2" if len(lookups) == 1 else "127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    url = f"http://api.rebind.example:{endpoint.server.server_port}/cgi-bin/token"
    if client == "httpx":
        with pytest.raises(httpx.HTTPError):
            guarded_request("GET", url, timeout=2)
    else:
        session = requests.Session()
        guard_requests_session(session)
        with pytest.raises(requests.ConnectionError, match="outbound call refused"):
            session.get(url, timeout=2)
    assert len(lookups) >= 2  # checked, then resolved again where the socket is opened
    assert endpoint.requests == []


def test_the_requests_client_connects_to_the_checked_address_with_the_name_in_host(settings, endpoint, monkeypatch):
    import requests

    from apps.outbound.guard import guard_requests_session

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == "api.wx.example" else host, *a, **k)
    )
    session = requests.Session()
    guard_requests_session(session)
    port = endpoint.server.server_port
    assert session.get(f"http://api.wx.example:{port}/cgi-bin/token", timeout=2).status_code == 200
    assert endpoint.requests[-1]["headers"]["Host"] == f"api.wx.example:{port}"
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundRefused):  # refused before connecting: a clear reason
        session.get(f"http://api.wx.example:{port}/cgi-bin/token", timeout=2)


def test_every_redirect_hop_is_checked(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    for target in ("http://127.0.0.2:9/x", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
        ep = Endpoint(redirect_to=target)
        try:
            with pytest.raises(httpx.HTTPError):
                guarded_request("GET", ep.url, timeout=2, follow_redirects=True)
            assert len(ep.requests) == 1
        finally:
            ep.close()


def test_saving_an_internal_url_is_refused_in_the_users_language(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    from django.utils import translation

    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        validate_url("http://10.0.0.5/hook")
    assert exc.value.code == "url_not_allowed" and "public internet" in str(exc.value.message)
    with translation.override("zh-hans"), pytest.raises(ApplicationError) as exc:
        validate_url("ftp://example.com/")
    assert "公网" in str(exc.value.message)


@pytest.mark.django_db(transaction=True)
def test_webhook_is_signed_once_and_retried_with_backoff(org_a, monkeypatch):
    from apps.outbound.tasks import webhook_deliver_task

    monkeypatch.setattr(webhook_deliver_task.app.conf, "task_eager_propagates", False)
    ep = Endpoint(statuses=[503, 500])
    try:
        delivery = webhooks.webhook_enqueue(
            tenant_id=org_a.tenant.pk, kind="test", url=ep.url, payload={"hello": "世界"}, key="test-1"
        )
        assert (
            webhooks.webhook_enqueue(tenant_id=org_a.tenant.pk, kind="test", url=ep.url, payload={}, key="test-1").pk
            == delivery.pk
        )
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
        assert len(ep.requests) == 3
        for request in ep.requests:
            headers = request["headers"]
            assert headers["Idempotency-Key"] == "test-1" and headers["X-Kefu-Delivery"] == str(delivery.pk)
            assert webhooks.signature_valid(
                secret=org_a.tenant.push_webhook_secret,
                timestamp=headers["X-Kefu-Timestamp"],
                body=request["body"],
                value=headers["X-Kefu-Signature"],
            )
            assert headers["X-Kefu-Signature"].startswith("sha256=")
        assert json.loads(ep.requests[0]["body"]) == {"hello": "世界"}
    finally:
        ep.close()


@pytest.mark.django_db(transaction=True)
def test_a_refused_or_rejected_webhook_is_given_up_at_once(org_a, settings, monkeypatch):
    from apps.outbound.tasks import webhook_deliver_task

    monkeypatch.setattr(webhook_deliver_task.app.conf, "task_eager_propagates", False)
    ep = Endpoint(statuses=[404])
    try:
        rejected = webhooks.webhook_enqueue(
            tenant_id=org_a.tenant.pk, kind="test", url=ep.url, payload={}, key="test-404"
        )
        settings.OUTBOUND_ALLOWED_NETWORKS = []
        refused = webhooks.webhook_enqueue(
            tenant_id=org_a.tenant.pk, kind="test", url=ep.url, payload={}, key="test-refused"
        )
    finally:
        ep.close()
    rejected.refresh_from_db()
    refused.refresh_from_db()
    assert (rejected.status, rejected.attempts, rejected.last_status_code) == ("failed", 1, 404)
    assert (refused.status, refused.attempts) == ("failed", 1) and "refused" in refused.last_error
    assert len(ep.requests) == 1
    assert WebhookDelivery.objects.filter(status="pending").count() == 0


def test_backoff_grows_and_is_capped():
    waits = [webhooks.retry_countdown(n) for n in range(10)]
    assert 30 <= waits[0] <= 33 and 60 <= waits[1] <= 66 and all(w <= 3960 for w in waits)
    assert waits == sorted(waits) or max(waits[6:]) <= 3960


# --- every sender goes through the guard ---------------------------------------------------------


def test_channel_urls_to_internal_addresses_are_refused_at_save(settings):
    from apps.channels.services import channel_validate

    settings.OUTBOUND_ALLOWED_NETWORKS = []
    for kind, config in (
        ("partner", {"api_key": "k", "api_secret": "s", "webhook_url": "http://127.0.0.1:8000/hook"}),
        ("wechat", {"app_id": "wx1", "token": "t", "api_base_url": "http://169.254.169.254/"}),
    ):
        with pytest.raises(ApplicationError) as exc:
            channel_validate(kind=kind, config=config, allowed_origins=[])
        assert exc.value.code == "url_not_allowed"


@pytest.mark.django_db
def test_answer_provider_and_wechat_api_never_reach_internal_addresses(settings, endpoint, org_a):
    from apps.channels.models import Channel
    from apps.channels.wechat import client_for
    from apps.knowledge.providers import AskContext, HttpProvider

    class Empty:
        def answer(self, **kwargs):
            return ["fallback"]

    settings.OUTBOUND_ALLOWED_NETWORKS = []
    provider = HttpProvider(url=endpoint.url, timeout=2, fallback=Empty())
    assert provider.answer(text="冷链怎么寄", context=AskContext(tenant_id=org_a.tenant.pk)) == ["fallback"]
    channel = Channel(
        tenant=org_a.tenant, kind="wechat", config={"app_id": "wx", "app_secret": "s", "api_base_url": endpoint.url}
    )
    with pytest.raises(Exception) as exc:
        client_for(channel).fetch_access_token()
    assert "internal address" in str(exc.value)
    assert endpoint.requests == []
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    provider.answer(text="冷链怎么寄", context=AskContext(tenant_id=org_a.tenant.pk))
    assert len(endpoint.requests) == 1
