"""Waybill answers from the tenant's tracking service (a local HTTP server speaking the contract of
apps.knowledge.tracking), signed, with a timeout, through the outbound guard; an agent on failure."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.conversations.models import ConversationEvent, ConversationStatus
from apps.knowledge.models import BotAnswer, HandoffReason
from apps.knowledge.tracking import asks_for_tracking, tracking_lookup
from apps.outbound.webhooks import signature_valid

SECRET = "tracking-secret"
WAYBILL = "SF1234567890123"
SHIPMENT = {
    "waybill": WAYBILL,
    "status": "in_transit",
    "status_text": "运输中",
    "location": "上海转运中心",
    "updated_at": "2026-11-28 14:20",
    "events": [
        {"time": "2026-11-28 14:20", "text": "快件已到达上海转运中心"},
        {"time": "2026-11-28 09:02", "text": "快件已揽收"},
    ],
}


class _Carrier(BaseHTTPRequestHandler):
    """The tenant's tracking service: knows SHIPMENT, answers 404 for other numbers; `mode` breaks it."""

    requests: list = []
    mode = "ok"  # ok | error | slow | garbage
    released = threading.Event()

    def do_POST(self):  # noqa: N802 - http.server API
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"raw": raw, "headers": dict(self.headers)})
        if self.mode == "slow":
            self.released.wait(10)  # held until the test is over: the bot must not wait for it
        if self.mode == "error":
            return self._send(503, b"{}")
        if self.mode == "garbage":
            return self._send(200, b"<html>not json</html>")
        body = json.loads(raw)
        if body["waybill"] != WAYBILL:
            return self._send(404, b'{"error": "unknown"}')
        return self._send(200, json.dumps(SHIPMENT, ensure_ascii=False).encode())

    def _send(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, *args):
        pass


@pytest.fixture
def carrier():
    _Carrier.requests = []
    _Carrier.mode = "ok"
    _Carrier.released = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Carrier)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/track", _Carrier
    _Carrier.released.set()
    server.shutdown()
    server.server_close()


def _tracking_kit(kit, url, **changes):
    kit.settings(tracking_url=url, tracking_secret=SECRET, tracking_timeout=1.0, slots_before_handoff=[], **changes)
    return kit.start()


@pytest.mark.smoke
def test_a_waybill_number_is_answered_with_the_shipments_status(kit, carrier):
    url, handler = carrier
    conversation = _tracking_kit(kit, url)
    kit.say(conversation, f"帮我查一下 {WAYBILL} 到哪了")
    reply = kit.last_bot(conversation)
    assert reply.payload["kb"]["outcome"] == "tracking"
    assert reply.payload["kb"]["tracking"]["status"] == "in_transit"
    assert WAYBILL in reply.body and "运输中" in reply.body and "上海转运中心" in reply.body
    assert "快件已揽收" in reply.body
    assert kit.refresh(conversation).status == ConversationStatus.BOT
    assert BotAnswer.objects.get(question_message__conversation=conversation, outcome="tracking")
    # One signed request in the documented shape.
    [request] = handler.requests
    body = json.loads(request["raw"])
    assert body == {"waybill": WAYBILL, "tenant": kit.org.tenant.slug, "conversation_id": conversation.pk}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert signature_valid(
        secret=SECRET, timestamp=headers["x-kefu-timestamp"], body=request["raw"], value=headers["x-kefu-signature"]
    )
    assert not signature_valid(
        secret="another", timestamp=headers["x-kefu-timestamp"], body=request["raw"], value=headers["x-kefu-signature"]
    )


@pytest.mark.smoke
def test_a_number_alone_is_a_tracking_question(kit, carrier):
    url, _handler = carrier
    conversation = _tracking_kit(kit, url)
    kit.say(conversation, WAYBILL)
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "tracking"


@pytest.mark.parametrize(
    ("mode", "number", "error"),
    [("ok", "SF9999999999999", "not_found"), ("error", WAYBILL, "unavailable"), ("garbage", WAYBILL, "bad_response")],
)
def test_when_the_service_cannot_say_the_visitor_goes_to_an_agent(kit, carrier, mode, number, error):
    url, handler = carrier
    handler.mode = mode
    conversation = _tracking_kit(kit, url)
    kit.say(conversation, f"{number} 到哪了")
    conversation = kit.refresh(conversation)
    assert conversation.status != ConversationStatus.BOT
    assert conversation.bot_state.handoff_reason == HandoffReason.TRACKING_FAILED
    event = ConversationEvent.objects.get(conversation=conversation, kind="bot_tracking_failed")
    assert event.data == {"waybill": number, "error": error}
    assert kit.last_bot(conversation).payload["kb"] == {"outcome": "handoff", "reason": "tracking_failed"}


def test_a_slow_service_is_given_up_after_the_timeout(carrier):
    url, handler = carrier
    handler.mode = "slow"
    started = time.monotonic()
    result = tracking_lookup(url=url, secret=SECRET, timeout=0.5, waybill=WAYBILL)
    assert not result.ok and result.reason == "timeout"
    assert time.monotonic() - started < 5


def test_internal_addresses_are_refused_by_the_outbound_guard(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # as in production: loopback is an internal address
    result = tracking_lookup(url="http://127.0.0.1:9/track", secret=SECRET, timeout=0.5, waybill=WAYBILL)
    assert not result.ok and result.reason == "unavailable"


def test_a_number_with_another_question_goes_to_the_knowledge_base(kit, carrier):
    url, handler = carrier
    conversation = _tracking_kit(kit, url, confidence_threshold=0.0)
    kit.say(conversation, f"{WAYBILL} 这个件收件人地址写错了能改地址吗")
    assert handler.requests == []
    assert kit.last_bot(conversation).payload["kb"]["outcome"] == "answered"


def test_without_a_tracking_service_nothing_is_called(kit, carrier):
    _url, handler = carrier
    conversation = kit.start()
    kit.say(conversation, f"帮我查一下 {WAYBILL} 到哪了")
    assert handler.requests == []
    assert kit.last_bot(conversation).payload["kb"]["outcome"] != "tracking"


def test_what_counts_as_asking_where_the_parcel_is():
    assert asks_for_tracking("")
    assert asks_for_tracking("  您好 ")
    assert asks_for_tracking("查一下物流")
    assert asks_for_tracking("我的快递现在到哪了呀麻烦看看")
    assert not asks_for_tracking("这个件收件人地址写错了能改地址吗")
