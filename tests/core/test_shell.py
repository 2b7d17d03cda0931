"""The staff page shell: where each role lands, the role navigation, error pages in the user's
language, the favicon, offline API docs and `make run`'s banner."""

from __future__ import annotations

import http.server
import io
import re
import socket
import threading

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db]


def _sections(html: str) -> list[str]:
    nav = re.search(r'<nav class="sections".*?</nav>', html, re.S)
    return re.findall(r'data-section="(\w+)"', nav.group(0)) if nav else []


@pytest.mark.smoke
@pytest.mark.parametrize(
    "who, landing, sections",
    [
        ("agent_sh", "/workbench/", ["workbench"]),
        ("sup_east", "/supervisor/", ["workbench", "supervisor", "manage"]),
        ("admin", "/supervisor/", ["supervisor", "manage"]),
    ],
)
def test_each_role_lands_in_its_section_and_sees_only_its_sections(client, org_a, who, landing, sections):
    user = getattr(org_a, who)
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == landing
    page = client.get(landing).content.decode()
    assert _sections(page) == sections
    assert f'data-section="{landing.strip("/")}" aria-current="page"' in page
    # The back office wears the same header.
    if "manage" in sections:
        assert _sections(client.get("/manage/").content.decode()) == sections


def test_platform_operator_without_a_tenant_lands_in_the_back_office(client, db):
    from apps.accounts.models import Role, User

    op = User.objects.create_user(username="op", password=PASSWORD, role=Role.PLATFORM_OPERATOR, is_staff=True)
    client.force_login(op)
    assert client.get("/")["Location"] == "/manage/"


@pytest.mark.smoke
def test_error_pages_speak_chinese_and_english_when_chosen(client, org_a):
    client.force_login(org_a.agent_sh)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert "页面不存在" in html and "Not Found" not in html and 'data-section="workbench"' in html
    forbidden = client.get("/supervisor/")
    assert forbidden.status_code == 403 and "无权访问" in forbidden.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Page not found" in client.get("/no-such-page/").content.decode()
    assert "No access" in client.get("/supervisor/").content.decode()


def test_server_error_page_is_chinese_and_standalone(client, settings):
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("zh-hans"):
        html = render_to_string("500.html")
    assert "出错了" in html and "返回我的首页" in html


def test_favicon_is_served_on_every_page(client, org_a):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and b"".join(icon.streaming_content)[:4] == b"\x00\x00\x01\x00"
    client.force_login(org_a.sup_east)
    assert 'rel="icon"' in client.get("/supervisor/").content.decode()


def test_api_docs_load_everything_from_our_own_static_files(client, org_a):
    client.force_login(org_a.admin)
    html = client.get("/api/docs/").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") for u in urls), urls  # no CDN
    assert "<script>" not in html  # the init script is a file too (a strict CSP can allow it)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_prints_its_urls_only_once_the_server_answers(db):
    from apps.core.management.commands.runall import Command

    port = _free_port()
    out = io.StringIO()
    command = Command(stdout=out)
    stop = threading.Event()
    waiter = threading.Thread(target=command.banner_when_ready, args=(f"http://127.0.0.1:{port}", stop))
    waiter.start()
    try:
        assert not waiter.join(0.5) and waiter.is_alive()
        assert "Ready" not in out.getvalue()  # nothing listens yet: no URLs printed

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        waiter.join(10)
        server.shutdown()
    finally:
        stop.set()
    text = out.getvalue()
    assert "Ready after" in text and f"http://127.0.0.1:{port}/supervisor/" in text


def test_demo_shows_the_product_bot_first_quick_replies_and_complaints_rule(db):
    from django.core.management import call_command

    from apps.channels.demo import DEMO_WEB_KEY
    from apps.channels.models import Channel
    from apps.quickreplies.models import QuickReply
    from apps.routing.models import RoutingRule

    call_command("seed_demo", quiet=True)
    call_command("seed_demo", quiet=True)  # idempotent
    assert Channel.objects.get(key=DEMO_WEB_KEY).bot_enabled
    assert QuickReply.objects.filter(owner__isnull=True).count() >= 4
    assert QuickReply.objects.filter(owner__username="agent_sh1").count() >= 2
    assert RoutingRule.objects.get(name="投诉转技能组").target_skill_group.name == "投诉处理"


def test_channel_snippet_names_this_server(client, org_a):
    from apps.channels.models import Channel

    channel = Channel.objects.create(
        tenant=org_a.tenant, name="官网", kind="web", allowed_origins=["https://a.example"]
    )
    client.force_login(org_a.admin)
    html = client.get(
        f"/manage/kf_channels/channel/{channel.pk}/change/", HTTP_HOST="kefu.example.com"
    ).content.decode()
    assert "YOUR-KEFU-HOST" not in html
    assert "http://kefu.example.com/static/channels/widget.js" in html
