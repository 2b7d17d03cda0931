"""The client's address behind exactly TRUSTED_PROXY_COUNT reverse proxies.

Each proxy in front of us appends the address it received the request from to X-Forwarded-For,
so with N trusted proxies the client is the N-th entry from the right; everything to the left of
it was written by the client and is ignored (a random X-Forwarded-For changes nothing). With no
trusted proxy (the embedded default, daphne facing the network) the socket's peer is the client
and the header is ignored. Run daphne *without* --proxy-headers: this middleware decides.

It wraps the whole ASGI application, so Django's REMOTE_ADDR (login and public rate limits) and
the websocket consumers see the same address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def trusted_proxy_count() -> int:
    return int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)


def client_address(forwarded_for: list[str], peer: str | None, trusted: int) -> str | None:
    """The client's address from the X-Forwarded-For entries (left to right) and the peer."""
    if trusted <= 0:
        return peer
    entries = [e.strip() for value in forwarded_for for e in value.split(",") if e.strip()]
    if not entries:
        return peer
    candidate = entries[-trusted] if len(entries) >= trusted else entries[0]
    try:
        return str(ipaddress.ip_address(candidate.strip("[]")))
    except ValueError:
        return peer


class TrustedProxyMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            trusted = trusted_proxy_count()
            if trusted > 0:
                headers = scope.get("headers") or []
                forwarded = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
                peer = (scope.get("client") or (None, 0))[0]
                address = client_address(forwarded, peer, trusted)
                scope = dict(scope)
                scope["client"] = (address, (scope.get("client") or (None, 0))[1])
                proto = [v.decode("latin-1").split(",")[-1].strip() for k, v in headers if k == b"x-forwarded-proto"]
                if proto and proto[-1] in ("http", "https"):
                    secure = proto[-1] == "https"
                    if scope["type"] == "http":
                        scope["scheme"] = "https" if secure else "http"
                    else:
                        scope["scheme"] = "wss" if secure else "ws"
        return await self.app(scope, receive, send)
