"""The guarded HTTP client: every outbound call to an address a tenant (or anyone) configured.

An address is checked after DNS resolution, at the moment of connecting, for every connection the
client opens (redirect hops included): loopback, private, link-local (cloud metadata at
169.254.169.254), carrier-grade NAT, multicast, reserved and unspecified addresses are refused,
unless OUTBOUND_ALLOWED_NETWORKS lists them (a deployment's own gateway; the tests' local
stand-ins). The socket connects to the address that passed the check, so a name that resolves
to a public address once and to 127.0.0.1 the next time (DNS rebinding) gains nothing.
Environment proxies are ignored, and every call has timeouts.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext_lazy as _

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_REDIRECTS = 5


class OutboundRefused(httpx.RequestError):
    """The URL is not one we call: bad scheme, or a host resolving to an internal address."""


class Unresolvable(OutboundRefused):
    """The host name does not resolve (now)."""


@lru_cache(maxsize=32)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def allowed_networks() -> tuple:
    return _networks(tuple(getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()) or ()))


def address_allowed(ip: str) -> bool:
    """True when a connection to this IP address may be opened."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if any(address in net for net in allowed_networks()):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_allowed(str(address.ipv4_mapped))
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to, all of which must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"cannot resolve {host!r}: {exc}") from exc
    # sockaddr[0] is the address text for AF_INET and AF_INET6 (the only families asked for)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise OutboundRefused(f"{host!r} resolves to an internal address ({', '.join(refused) or 'none'})")
    return addresses


def check_url(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL whose host resolves only to allowed addresses."""
    try:
        parts = urlsplit(str(url))
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("only http:// and https:// URLs are called")
    if parts.username or parts.password:
        raise OutboundRefused("URLs with credentials are not called")
    resolve(parts.hostname, port)
    return parts.hostname, port


def validate_url(url: str) -> str:
    """For forms and services saving a URL we will call later: the cleaned URL, or an
    ApplicationError in the user's language."""
    from apps.core.errors import ApplicationError

    url = (url or "").strip()
    try:
        check_url(url)
    except Unresolvable:
        pass  # DNS may not be set up yet: every call is checked again when it connects
    except OutboundRefused:
        raise ApplicationError(
            "url_not_allowed",
            _("“%(url)s” cannot be used: it must be an http(s) address on the public internet.") % {"url": url[:200]},
        )
    return url


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that pass the check, and to the very address that was checked."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = resolve(host, port)
        except OutboundRefused as exc:
            raise httpcore.ConnectError(f"outbound call refused: {exc}") from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


class GuardedTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # httpx does not take a network backend: give its connection pool ours.
        self._pool._network_backend = _GuardedBackend()


def _check_request(request: httpx.Request) -> None:
    # Every request, redirect hops included, before any connection: a clear refusal rather than
    # a connection error (the connect-time check above stays the one that counts).
    check_url(str(request.url))


def guarded_client(*, timeout: float | httpx.Timeout | None = None, **kwargs) -> httpx.Client:
    """An httpx.Client that only reaches allowed addresses (use it as a context manager)."""
    hooks = kwargs.pop("event_hooks", {})
    hooks = {**hooks, "request": [_check_request, *hooks.get("request", [])]}
    return httpx.Client(
        transport=GuardedTransport(),
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        trust_env=False,
        max_redirects=MAX_REDIRECTS,
        event_hooks=hooks,
        **kwargs,
    )


def guarded_request(method: str, url: str, *, timeout: float | httpx.Timeout | None = None, **kwargs) -> httpx.Response:
    """One HTTP request through the guard. Raises OutboundRefused (an httpx.RequestError) for an
    address we do not call, httpx.HTTPError for network failures; the response is read in full."""
    follow = kwargs.pop("follow_redirects", False)
    with guarded_client(timeout=timeout, follow_redirects=follow) as client:
        return client.request(method, url, **kwargs)


# --- requests (wechatpy speaks requests, not httpx) ----------------------------------------------


def _pinned(connection_cls):
    """A urllib3 connection class that connects only to an address that passed the check, and to
    that very address (the name is resolved once, here): a host that resolved to a public address
    for check_url() and to 127.0.0.1 a moment later (DNS rebinding) is refused. SNI, the
    certificate check and the Host header still use the name."""

    class Pinned(connection_cls):
        def _new_conn(self):
            from urllib3.exceptions import NewConnectionError

            try:
                addresses = resolve(self.host, self.port)
            except OutboundRefused as exc:
                raise NewConnectionError(self, f"outbound call refused: {exc}") from exc
            last: Exception | None = None
            for address in addresses:
                self._dns_host = address  # where to connect; self.host (SNI, Host) is unchanged
                try:
                    return super()._new_conn()
                except NewConnectionError as exc:
                    last = exc
            raise last or NewConnectionError(self, f"cannot connect to {self.host}")

    Pinned.__name__ = f"Guarded{connection_cls.__name__}"
    return Pinned


def guard_requests_session(session) -> None:
    """Make a requests.Session check every URL it is about to call (redirect hops included) and
    connect only to the address that passed the check."""
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = _pinned(HTTPConnection)

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _pinned(HTTPSConnection)

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

        def proxy_manager_for(self, *args, **kwargs):  # never through a proxy (trust_env is off too)
            raise OutboundRefused("outbound calls do not go through proxies")

        def send(self, request, *args, **kwargs):
            check_url(request.url)  # a clear refusal before any connection; the connect-time check counts
            return super().send(request, *args, **kwargs)

    session.trust_env = False
    adapter = GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
