"""WeChat official account protocol: callback verification, safe-mode crypto, safe XML, API client.

wechatpy does the cryptography and message classes; we do the parts it leaves to the caller
or does not do safely: constant-time signature checks, the timestamp window, the nonce replay
cache and refusing DTDs before any XML parser sees the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import xmltodict
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from wechatpy.client import WeChatClient
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.parser import parse_message
from wechatpy.session import SessionStorage

from apps.core.errors import ApplicationError
from apps.outbound.guard import guard_requests_session

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com/cgi-bin/"
TIMESTAMP_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024
# A DTD is the only way to declare entities (billion laughs, external entities): WeChat never
# sends one, so any body mentioning one is refused before a parser sees it.
_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class WeChatRejected(ApplicationError):
    pass


def _sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_valid(*, token: str, timestamp: str, nonce: str, signature: str, encrypt: str | None = None) -> bool:
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt is not None else [])
    return hmac.compare_digest(_sha1_signature(*parts), (signature or "").lower())


def check_timestamp(timestamp: str, *, now: float | None = None) -> None:
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        raise WeChatRejected("wechat_bad_timestamp", _("Missing or invalid timestamp."), status=403)
    if abs((now or time.time()) - ts) > TIMESTAMP_WINDOW_SECONDS:
        raise WeChatRejected(
            "wechat_stale_timestamp", _("The request timestamp is outside the allowed window."), status=403
        )


def claim_nonce(*, channel_id: int, timestamp: str, nonce: str) -> None:
    """A signed request may be used once: remember its nonce for longer than the timestamp window."""
    if not nonce or len(nonce) > 64:
        raise WeChatRejected("wechat_bad_nonce", _("Missing or invalid nonce."), status=403)
    if not cache.add(f"wx:nonce:{channel_id}:{timestamp}:{nonce}", 1, timeout=TIMESTAMP_WINDOW_SECONDS * 2 + 60):
        raise WeChatRejected("wechat_replayed", _("This request has already been received."), status=403)


def refuse_dtd(body: bytes) -> None:
    if _DTD_RE.search(body):
        raise WeChatRejected("wechat_unsafe_xml", _("XML with a document type declaration is not accepted."))


def parse_xml_dict(body: bytes | str) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    refuse_dtd(raw)
    try:
        # disable_entities is xmltodict's default; spelled out because it is the second guard.
        data = xmltodict.parse(raw, disable_entities=True)
    except Exception:  # noqa: BLE001 - any parser failure is the sender's fault
        raise WeChatRejected("wechat_bad_xml", _("The XML body could not be parsed."))
    if not isinstance(data, dict) or not isinstance(data.get("xml"), dict):
        raise WeChatRejected("wechat_bad_xml", _("The XML body could not be parsed."))
    return data["xml"]


def decrypt(*, encoding_aes_key: str, app_id: str, encrypt: str) -> str:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("bad key length")
        return PrpCrypto(key).decrypt(encrypt, app_id)
    except InvalidAppIdException:
        raise WeChatRejected("wechat_wrong_appid", _("The message was encrypted for another AppID."), status=403)
    except Exception:  # noqa: BLE001 - bad base64, bad padding, bad length, bad UTF-8: all the sender's fault
        raise WeChatRejected("wechat_bad_ciphertext", _("The encrypted message could not be decrypted."))


def encrypt(*, encoding_aes_key: str, app_id: str, token: str, xml: str, nonce: str, timestamp: str) -> str:
    """Encrypt a passive reply for safe mode (wechatpy builds the envelope)."""
    from wechatpy.crypto import WeChatCrypto

    return WeChatCrypto(token, encoding_aes_key, app_id).encrypt_message(xml, nonce, timestamp)


def parse_inbound(xml: str):
    """wechatpy message/event object from a (decrypted) XML text, after the DTD check."""
    refuse_dtd(xml.encode())
    try:
        return parse_message(xml)
    except Exception:  # noqa: BLE001
        raise WeChatRejected("wechat_bad_xml", _("The XML body could not be parsed."))


# --- outbound: the customer-service message API ----------------------------------------------


class CacheSessionStorage(SessionStorage):
    """wechatpy's token storage on Django's cache (Redis): one access token per AppID for every worker."""

    prefix = "wx:session:"

    def get(self, key, default=None):
        return cache.get(self.prefix + key, default)

    def set(self, key, value, ttl=None):
        # Renew a few minutes before WeChat expires it.
        timeout = max(60, int(ttl) - 300) if ttl else None
        cache.set(self.prefix + key, value, timeout=timeout)

    def delete(self, key):
        cache.delete(self.prefix + key)


class KefuWeChatClient(WeChatClient):
    """WeChatClient whose base URL (token endpoint included) is configurable per channel."""

    def __init__(self, *, appid: str, secret: str, api_base_url: str, timeout: float = 5):
        super().__init__(appid, secret, session=CacheSessionStorage(), timeout=timeout)
        self.API_BASE_URL = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        # A per-channel base URL is tenant input: every call (redirects too) goes through the guard.
        guard_requests_session(self._http)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def api_base_url(channel) -> str:
    return channel.cfg("api_base_url") or getattr(settings, "WECHAT_API_BASE_URL", DEFAULT_API_BASE_URL)


def client_for(channel) -> KefuWeChatClient:
    return KefuWeChatClient(
        appid=channel.cfg("app_id"), secret=channel.cfg("app_secret"), api_base_url=api_base_url(channel)
    )
