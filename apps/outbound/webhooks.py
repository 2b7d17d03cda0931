"""Signed webhooks: one signature format, one way to post, one retry schedule (docs/webhooks.md).

    X-Kefu-Timestamp: <unix seconds>
    X-Kefu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
    X-Kefu-Delivery:  <delivery id>         Idempotency-Key: <stable key>

Posting goes through the guarded client (apps.outbound.guard): internal addresses are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.outbound.guard import OutboundRefused, guarded_request
from apps.outbound.models import WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_ATTEMPTS = 7  # the first try and six retries: about two hours in all


class DeliveryError(Exception):
    """A POST that did not end in a 2xx. `retryable` is False when trying again cannot help."""

    def __init__(self, message: str, *, retryable: bool = True, status_code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """The X-Kefu-Signature value: `sha256=` + hex HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_valid(*, secret: str, timestamp: str, body: bytes, value: str) -> bool:
    """Checks a signature in our format; the bare hex digest (the format partner requests used
    before one format existed) is accepted too."""
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    value = (value or "").strip().lower()
    if not value.startswith(SIGNATURE_PREFIX):
        value = SIGNATURE_PREFIX + value
    return hmac.compare_digest(expected, value)


def retry_countdown(retries: int) -> int:
    """Seconds before retry number `retries + 1`: 30 s, 1, 2, 4, 8, 16 min ... capped at 1 h, with
    up to 10 % jitter so a recovering endpoint is not hit by every worker at once."""
    base = min(3600, 30 * 2**retries)
    return int(base + random.uniform(0, base / 10))  # noqa: S311 - jitter, not security


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def webhook_post(
    *,
    url: str,
    body: bytes,
    secret: str,
    delivery_id: int | str,
    idempotency_key: str,
    timestamp: int | None = None,
    extra_headers: dict | None = None,
) -> httpx.Response:
    """Sign and POST one body. Returns the 2xx response; raises DeliveryError otherwise."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "kefu-webhook/1",
        "X-Kefu-Timestamp": ts,
        "X-Kefu-Signature": signature(secret=secret, timestamp=ts, body=body),
        "X-Kefu-Delivery": str(delivery_id),
        "Idempotency-Key": idempotency_key,
        **(extra_headers or {}),
    }
    try:
        response = guarded_request("POST", url, content=body, headers=headers, timeout=TIMEOUT)
    except OutboundRefused as exc:
        raise DeliveryError(f"refused: {exc}", retryable=False) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"request failed: {exc!r}") from exc
    if not 200 <= response.status_code < 300:
        # 4xx other than 408/429 will answer the same next time; 5xx, 408 and 429 may not.
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise DeliveryError(
            f"answered HTTP {response.status_code}", retryable=retryable, status_code=response.status_code
        )
    return response


# --- deliveries kept as rows here ----------------------------------------------------------------

SECRET_SOURCES: dict[str, Callable[[int], str]] = {}


def register_secret_source(name: str, lookup: Callable[[int], str]) -> None:
    """`lookup(tenant_id) -> secret`: a signing secret deliveries may name by `name`."""
    SECRET_SOURCES[name] = lookup


def _tenant_push_secret(tenant_id: int) -> str:
    from apps.tenants.models import Tenant

    return Tenant.objects.values_list("push_webhook_secret", flat=True).get(pk=tenant_id) or ""


register_secret_source("tenant_push", _tenant_push_secret)


def webhook_enqueue(
    *, tenant_id: int, kind: str, url: str, payload: dict, key: str, secret_source: str = "tenant_push"
) -> WebhookDelivery:
    """Record a signed delivery and send it after commit (retried with backoff until delivered or
    given up). The same `key` twice is the same delivery."""
    if secret_source not in SECRET_SOURCES:
        raise ValueError(f"unknown secret source {secret_source!r}")
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                tenant_id=tenant_id,
                kind=kind,
                key=key[:191],
                url=url,
                body=encode(payload).decode(),
                secret_source=secret_source,
            )
    except IntegrityError:
        return WebhookDelivery.objects.get(key=key[:191])
    from apps.outbound.tasks import webhook_deliver_task

    transaction.on_commit(lambda: webhook_deliver_task.delay(delivery.pk))
    return delivery


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One attempt. Raises DeliveryError (retryable) when it should be tried again."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery
    secret = SECRET_SOURCES[delivery.secret_source](delivery.tenant_id)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        response = webhook_post(
            url=delivery.url,
            body=delivery.body.encode(),
            secret=secret,
            delivery_id=delivery.pk,
            idempotency_key=delivery.key,
        )
    except DeliveryError as exc:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            last_error=str(exc)[:300], last_status_code=exc.status_code
        )
        if not exc.retryable:
            webhook_give_up(delivery_id=delivery.pk)
        raise
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.DELIVERED,
        delivered_at=timezone.now(),
        last_error="",
        last_status_code=response.status_code,
    )
    delivery.refresh_from_db()
    return delivery


def webhook_give_up(*, delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED
    )
    logger.warning("webhook delivery %s given up", delivery_id)


def max_attempts() -> int:
    return int(getattr(settings, "OUTBOUND_WEBHOOK_MAX_ATTEMPTS", MAX_ATTEMPTS))
