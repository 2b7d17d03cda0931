"""Origins compared exactly: scheme, host and port.

An origin is ours when it is the origin the request was made to (the scheme the client used and
its Host header: a page served by this server opening a websocket to it) or one listed in
KEFU_ORIGINS / CSRF_TRUSTED_ORIGINS (other front-end host names). Nothing else: not our host
name on another port or scheme, not `http://127.0.0.1:8000.evil.example.com`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_origin(value: str | None) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None when malformed."""
    if not value or not isinstance(value, str) or value.strip() == "null":
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    # urlsplit stops the host at ":"; what follows must be exactly the port (no "8000.evil.com").
    netloc = parts.netloc.lower()
    expected = host if port is None else f"{host}:{port}"
    if netloc != expected:
        return None
    if port is not None and port != DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}:{port}"
    return f"{scheme}://{host}"


def request_origin(*, secure: bool, host: str | None) -> str | None:
    """The origin a request was sent to (from its scheme and Host header)."""
    if not host:
        return None
    return normalize_origin(f"{'https' if secure else 'http'}://{host}")


def configured_origins() -> set[str]:
    values = list(getattr(settings, "KEFU_ORIGINS", []) or []) + list(
        getattr(settings, "CSRF_TRUSTED_ORIGINS", []) or []
    )
    return {o for o in (normalize_origin(v) for v in values) if o}


def origin_is_ours(origin: str | None, *, own: str | None = None) -> bool:
    normalized = normalize_origin(origin)
    if normalized is None:
        return False
    return normalized == normalize_origin(own) or normalized in configured_origins()


def websocket_origin_ok(scope) -> bool:
    """A websocket handshake from a browser must come from one of our origins (no cross-site
    hijacking with the visitor's or staff member's cookies); without an Origin header it is not a
    browser and the session or token is the check."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if origin is None:
        return True
    host = headers.get(b"host")
    own = request_origin(secure=scope.get("scheme") == "wss", host=host.decode("latin-1") if host else None)
    return origin_is_ours(origin.decode("latin-1"), own=own)
