"""The pluggable answer provider: an external AI service over HTTP (a local server here)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.knowledge.models import FaqEntry
from apps.knowledge.providers import AskContext, HttpProvider, LocalProvider, provider_for


class _Handler(BaseHTTPRequestHandler):
    requests: list = []
    reply: dict | None = {
        "answers": [{"answer": "外部AI：冷链件请选择冷链产品。", "confidence": 0.93, "question": "冷链怎么寄"}]
    }

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if self.reply is None:
            self.send_response(500)
            self.end_headers()
            return
        data = json.dumps(self.reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def ai_server():
    _Handler.requests = []
    _Handler.reply = {
        "answers": [{"answer": "外部AI：冷链件请选择冷链产品。", "confidence": 0.93, "question": "冷链怎么寄"}]
    }
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/answer", _Handler
    server.shutdown()
    server.server_close()


@pytest.mark.smoke
def test_local_provider_is_the_default(kit):
    assert isinstance(provider_for(kit.settings()), LocalProvider)


@pytest.mark.smoke
def test_http_provider_answers_the_bot(kit, ai_server):
    url, handler = ai_server
    kit.settings(provider="http", provider_url=url, provider_token="s3cret")
    conversation = kit.start()
    kit.say(conversation, "冷冻海鲜要怎么寄")
    reply = kit.last_bot(conversation)
    assert reply.body == "外部AI：冷链件请选择冷链产品。"
    assert reply.payload["kb"]["provider"] == "http"
    assert handler.requests[0]["auth"] == "Bearer s3cret"
    assert handler.requests[0]["body"]["question"] == "冷冻海鲜要怎么寄"
    assert handler.requests[0]["body"]["tenant"] == kit.org.tenant.slug


@pytest.mark.smoke
def test_http_provider_failure_falls_back_to_the_knowledge_base(kit, ai_server):
    url, handler = ai_server
    handler.reply = None
    provider = HttpProvider(url=url, timeout=1, fallback=LocalProvider())
    answers = provider.answer(text="运费怎么算", context=AskContext(tenant_id=kit.org.tenant.pk), k=3)
    assert answers and answers[0].provider == "local" and answers[0].question == "运费是怎么计算的？"
    dead = HttpProvider(url="http://127.0.0.1:9/none", timeout=0.5, fallback=LocalProvider())
    assert dead.answer(text="运费怎么算", context=AskContext(tenant_id=kit.org.tenant.pk))[0].provider == "local"


@pytest.mark.smoke
def test_http_provider_cannot_point_at_another_tenants_entry(kit, kit_b, ai_server):
    url, handler = ai_server
    foreign = FaqEntry.objects.filter(tenant=kit_b.org.tenant).first()
    handler.reply = {"answers": [{"answer": "x", "confidence": 0.9, "entry_id": foreign.pk}]}
    answers = HttpProvider(url=url).answer(text="q", context=AskContext(tenant_id=kit.org.tenant.pk))
    assert answers[0].entry_id is None


@pytest.mark.smoke
def test_http_provider_refuses_non_http_urls(kit):
    provider = HttpProvider(url="file:///etc/passwd", fallback=LocalProvider())
    answers = provider.answer(text="运费怎么算", context=AskContext(tenant_id=kit.org.tenant.pk))
    assert answers[0].provider == "local"
