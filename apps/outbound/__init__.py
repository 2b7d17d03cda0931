"""Every outbound HTTP call goes through this app (label `outbound`).

Two functions are the API for the rest of the product:

- `guarded_request(method, url, *, timeout=None, **httpx_kwargs) -> httpx.Response`
  (apps.outbound.guard): one request that only reaches addresses on the public internet, checked
  after DNS resolution and on every redirect hop (OUTBOUND_ALLOWED_NETWORKS lists exceptions).
  Raises `OutboundRefused` (an httpx.RequestError) for an address we do not call. Use
  `validate_url(url)` when a URL is saved, `guarded_client()` for several calls.

- `webhook_enqueue(*, tenant_id, kind, url, payload, key, secret_source="tenant_push")`
  (apps.outbound.webhooks): a signed POST recorded as a WebhookDelivery row, sent after commit
  and retried with backoff (`retry_countdown`) until delivered or given up. `webhook_post` signs
  and posts one body for senders that keep their own delivery rows (push, partner channels).

The signature format is documented in docs/webhooks.md.
"""
