"""Waybill answers: a visitor who gives a waybill number is answered from the tenant's tracking API.

The tenant configures the URL of its tracking service (and a shared secret) in the bot settings. The
bot asks it before taking the conversation's lock (no network call under a lock), through the guarded
client (apps.outbound.guard: internal addresses refused, timeouts always), signed like our webhooks
(apps.outbound.webhooks.signature). When the service fails, times out, or does not know the number,
the bot hands the visitor to an agent instead of guessing. Contract (docs/knowledge-base.md):

    POST <tracking_url>
    Content-Type: application/json
    X-Kefu-Timestamp: <unix seconds>
    X-Kefu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>   (when a secret is set)
    {"waybill": "SF1234567890123", "tenant": "<tenant slug>", "conversation_id": 42}

    200 {"waybill": "SF1234567890123", "status": "in_transit",
         "status_text": "运输中", "location": "上海转运中心", "updated_at": "2026-11-28 14:20",
         "events": [{"time": "2026-11-28 14:20", "text": "快件已到达上海转运中心"}, ...]}   newest first
    404  the number is unknown to the carrier
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field

import httpx

from apps.outbound.guard import guarded_request
from apps.outbound.webhooks import signature

logger = logging.getLogger(__name__)

MAX_EVENTS = 3
MAX_TEXT = 200
# Words that make a message with a waybill number a question about where the parcel is. A message
# that is only the number (and a few words) is one too; anything longer asks something else (改地址,
# 能退吗 …) and goes to the knowledge base with the number stripped.
TRACKING_WORDS = (
    "查",
    "物流",
    "到哪",
    "在哪",
    "进度",
    "状态",
    "轨迹",
    "派送",
    "送到",
    "到了",
    "到没",
    "几时到",
    "什么时候到",
)
SHORT_REST = 6
_NOISE = re.compile(r"[\s\W_\d]+", re.UNICODE)


@dataclass
class TrackingResult:
    """What the tracking service said about one number: found, or failed with a reason."""

    waybill: str
    ok: bool
    reason: str = ""  # when not ok: not_found, timeout, unavailable, bad_response, refused
    status: str = ""
    status_text: str = ""
    location: str = ""
    updated_at: str = ""
    events: list[dict] = field(default_factory=list)

    def answer_text(self) -> str:
        head = f"您的运单 {self.waybill} 当前状态：{self.status_text or self.status}"
        details = "，".join(x for x in (self.location, self.updated_at) if x)
        lines = [head + (f"（{details}）" if details else "") + "。"]
        for event in self.events:
            lines.append(f"{event['time']} {event['text']}".strip())
        return "\n".join(lines)

    def as_payload(self) -> dict:
        return {
            "waybill": self.waybill,
            "status": self.status,
            "status_text": self.status_text,
            "location": self.location,
            "updated_at": self.updated_at,
        }


def asks_for_tracking(text_without_numbers: str) -> bool:
    """True when the rest of the message (the waybill number removed) asks where the parcel is."""
    rest = _NOISE.sub("", text_without_numbers or "")
    return len(rest) <= SHORT_REST or any(word in rest for word in TRACKING_WORDS)


def _text(value, limit: int = MAX_TEXT) -> str:
    return str(value).strip()[:limit] if isinstance(value, str | int | float) and str(value).strip() else ""


def tracking_lookup(
    *,
    url: str,
    secret: str,
    timeout: float,
    waybill: str,
    tenant_slug: str = "",
    conversation_id: int | None = None,
    now: float | None = None,
) -> TrackingResult:
    """Ask the tenant's tracking service about one waybill number. Never raises for the service's
    failures: the result says what went wrong, and the bot hands off."""
    body = json.dumps(
        {"waybill": waybill, "tenant": tenant_slug, "conversation_id": conversation_id},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    timestamp = str(int(now if now is not None else time.time()))
    headers = {"Content-Type": "application/json", "X-Kefu-Timestamp": timestamp}
    if secret:
        headers["X-Kefu-Signature"] = signature(secret=secret, timestamp=timestamp, body=body)
    failed = TrackingResult(waybill=waybill, ok=False)
    try:
        response = guarded_request("POST", url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        failed.reason = "timeout"
        return failed
    except httpx.HTTPError:  # refused addresses (OutboundRefused) are httpx errors too
        logger.warning("tracking service %s failed", url, exc_info=True)
        failed.reason = "unavailable"
        return failed
    if response.status_code == 404:
        failed.reason = "not_found"
        return failed
    if response.status_code != 200:
        failed.reason = "unavailable"
        return failed
    try:
        data = json.loads(response.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict) or not (_text(data.get("status")) or _text(data.get("status_text"))):
        failed.reason = "bad_response"
        return failed
    events = []
    for item in data.get("events") or []:
        if isinstance(item, dict) and _text(item.get("text")):
            events.append({"time": _text(item.get("time"), 40), "text": _text(item.get("text"))})
        if len(events) >= MAX_EVENTS:
            break
    return TrackingResult(
        waybill=waybill,
        ok=True,
        status=_text(data.get("status"), 40),
        status_text=_text(data.get("status_text"), 60),
        location=_text(data.get("location"), 100),
        updated_at=_text(data.get("updated_at"), 40),
        events=events,
    )
