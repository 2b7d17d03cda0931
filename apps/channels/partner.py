"""Partner platform API (C1): HMAC-SHA256 signed requests both ways (docs/webhooks.md).

X-Kefu-Signature = "sha256=" + hex(HMAC-SHA256(api_secret, f"{timestamp}.{raw body}")), with the
Unix timestamp in X-Kefu-Timestamp. Requests to us may also send the bare hex digest. Our webhooks
to the partner are signed and posted by apps.outbound.
"""

from __future__ import annotations

import hmac
import time

from django.utils.translation import gettext_lazy as _

from apps.core.errors import ApplicationError
from apps.outbound import webhooks

TIMESTAMP_WINDOW_SECONDS = 300


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """The bare hex digest (what partners have been sending us); webhooks.signature adds `sha256=`."""
    return webhooks.signature(secret=secret, timestamp=timestamp, body=body).removeprefix(webhooks.SIGNATURE_PREFIX)


def unknown_key() -> ApplicationError:
    """One answer for a wrong key and for a channel key that does not exist (no oracle)."""
    return ApplicationError("invalid_api_key", _("Unknown API key."), status=401)


def verify_request(
    *, channel, api_key: str, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> None:
    expected_key = channel.cfg("api_key")
    secret = channel.cfg("api_secret")
    if not expected_key or not secret or not hmac.compare_digest(expected_key.encode(), (api_key or "").encode()):
        raise unknown_key()
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        raise ApplicationError("invalid_timestamp", _("Missing or invalid X-Kefu-Timestamp."), status=401)
    if abs((now or time.time()) - ts) > TIMESTAMP_WINDOW_SECONDS:
        raise ApplicationError("stale_timestamp", _("The request timestamp is outside the allowed window."), status=401)
    if not webhooks.signature_valid(secret=secret, timestamp=timestamp, body=body, value=signature):
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
    """POST one message to the partner. Raises webhooks.DeliveryError unless it answered 2xx."""
    body = webhooks.encode(webhook_body(channel=channel, message=message))
    webhooks.webhook_post(
        url=channel.cfg("webhook_url"),
        body=body,
        secret=channel.cfg("api_secret"),
        delivery_id=f"msg-{message.pk}",
        # The same key on every retry: the partner drops a repeat it has already processed.
        idempotency_key=f"kefu-msg-{message.pk}",
    )
