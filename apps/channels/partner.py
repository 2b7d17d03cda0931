"""Partner platform API (C1): HMAC-SHA256 signed requests both ways.

signature = hex(HMAC-SHA256(api_secret, f"{timestamp}.{raw body}")), sent as X-Kefu-Signature
with the Unix timestamp in X-Kefu-Timestamp. The same scheme signs our webhooks to the partner.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError

TIMESTAMP_WINDOW_SECONDS = 300
WEBHOOK_TIMEOUT_SECONDS = 5


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_request(
    *, channel, api_key: str, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> None:
    expected_key = channel.cfg("api_key")
    secret = channel.cfg("api_secret")
    if not expected_key or not secret or not hmac.compare_digest(expected_key.encode(), (api_key or "").encode()):
        raise ApplicationError("invalid_api_key", _("Unknown API key."), status=401)
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        raise ApplicationError("invalid_timestamp", _("Missing or invalid X-Kefu-Timestamp."), status=401)
    if abs((now or time.time()) - ts) > TIMESTAMP_WINDOW_SECONDS:
        raise ApplicationError("stale_timestamp", _("The request timestamp is outside the allowed window."), status=401)
    expected = sign(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected, (signature or "").lower()):
        raise ApplicationError("invalid_signature", _("The request signature is not valid."), status=401)


def media_url(message) -> str:
    from apps.channels.services import media_url as url

    return url(message)


def webhook_body(*, channel, message) -> dict:
    from apps.customers.models import CustomerIdentity

    conversation = message.conversation
    user_id = (
        CustomerIdentity.objects.filter(customer_id=conversation.customer_id, kind="partner")
        .values_list("value", flat=True)
        .first()
    )
    return {
        "event": "message.created",
        "channel": channel.key,
        "conversation_id": conversation.pk,
        "user_id": user_id,
        "message": {
            "id": message.pk,
            "seq": message.seq,
            "type": message.content_type,
            "text": message.body,
            "url": media_url(message),
            "sender_kind": message.sender_kind,
            "sender_name": message.sender_user.name if message.sender_user_id else "",
            "created_at": message.created_at.isoformat(),
        },
    }


def webhook_post(*, channel, message) -> None:
    """POST one message to the partner. Raises RetryableDeliveryError unless it answered 2xx."""
    from apps.channels.services import RetryableDeliveryError

    body = json.dumps(
        webhook_body(channel=channel, message=message), ensure_ascii=False, separators=(",", ":")
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Kefu-Timestamp": timestamp,
        "X-Kefu-Signature": sign(secret=channel.cfg("api_secret"), timestamp=timestamp, body=body),
        # The same key on every retry: the partner drops a repeat it has already processed.
        "Idempotency-Key": f"kefu-msg-{message.pk}",
        "User-Agent": "kefu-webhook/1",
    }
    try:
        response = httpx.post(
            channel.cfg("webhook_url"),
            content=body,
            headers=headers,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise RetryableDeliveryError(f"webhook request failed: {exc!r}")
    if not 200 <= response.status_code < 300:
        raise RetryableDeliveryError(f"webhook answered HTTP {response.status_code}")
