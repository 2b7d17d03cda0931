"""WeChat Customer Service (微信客服) through WeCom's kf API: callback crypto and the API client.

WeChat Customer Service does not push messages. Its callback only says "something happened on
customer-service account X" (event kf_msg_or_event, with a short-lived Token); we then pull
with kf/sync_msg from a cursor we keep, and reply with kf/send_msg. wechatpy 1.8 has the WeCom
crypto (wechatpy.enterprise.crypto) and a WeCom client base but no kf API: `WeChatKfAPI` below
is that API on wechatpy's `BaseWeChatAPI`, so tokens, retries on an expired token and error
handling are wechatpy's.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException

from apps.channels.wechat import CacheSessionStorage, WeChatRejected
from apps.outbound.guard import guard_requests_session

DEFAULT_API_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"

# Session states of kf/service_state (官方: 会话状态).
STATE_NEW = 0  # 未处理: the customer wrote, nobody took it yet
STATE_BOT = 1  # 由智能助手接待: the API may answer; this is where we keep our sessions
STATE_POOL = 2  # 待接入池排队中: WeCom's own queue
STATE_HUMAN = 3  # 由人工接待: a servicer in the WeCom app; the API may not send
STATE_ENDED = 4  # 已结束/未开始

# sync_msg `origin`: who wrote a pulled message.
ORIGIN_CUSTOMER = 3
ORIGIN_EVENT = 4
ORIGIN_SERVICER = 5

# kf errors we act on (others are retried, then reported).
ERR_QUOTA = 95001  # 发送消息数量已达上限: 5 messages after the customer's last one
ERR_SESSION_STATE = 95018  # send msg session status invalid: not in state 0/1


class WeChatKfAPI(BaseWeChatAPI):
    """kf/* endpoints used by a customer-service system (official request and response shapes:
    developer.work.weixin.qq.com/document/path/94670, 94677, 94669, 94769)."""

    def sync_msg(self, *, cursor: str = "", token: str = "", open_kfid: str = "", limit: int = 1000) -> dict:
        data: dict = {"limit": limit, "voice_format": 0}
        if cursor:
            data["cursor"] = cursor
        if token:
            data["token"] = token
        if open_kfid:
            data["open_kfid"] = open_kfid
        return self._post("kf/sync_msg", data=data)

    def send_msg(self, *, touser: str, open_kfid: str, msgtype: str, content: dict, msgid: str = "") -> dict:
        data = {"touser": touser, "open_kfid": open_kfid, "msgtype": msgtype, msgtype: content}
        if msgid:
            data["msgid"] = msgid
        return self._post("kf/send_msg", data=data)

    def send_msg_on_event(self, *, code: str, msgtype: str, content: dict, msgid: str = "") -> dict:
        """The welcome message of an enter_session event (its welcome_code, once, within 20 s)."""
        data = {"code": code, "msgtype": msgtype, msgtype: content}
        if msgid:
            data["msgid"] = msgid
        return self._post("kf/send_msg_on_event", data=data)

    def service_state_get(self, *, open_kfid: str, external_userid: str) -> dict:
        return self._post("kf/service_state/get", data={"open_kfid": open_kfid, "external_userid": external_userid})

    def service_state_trans(
        self, *, open_kfid: str, external_userid: str, service_state: int, servicer_userid: str = ""
    ) -> dict:
        data = {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": service_state}
        if servicer_userid:
            data["servicer_userid"] = servicer_userid
        return self._post("kf/service_state/trans", data=data)

    def customer_batchget(self, external_userids: list[str]) -> dict:
        return self._post(
            "kf/customer/batchget",
            data={"external_userid_list": list(external_userids), "need_enter_session_context": 0},
        )

    def account_list(self, *, offset: int = 0, limit: int = 100) -> dict:
        """The corp's customer-service accounts (to find each one's open_kfid)."""
        return self._post("kf/account/list", data={"offset": offset, "limit": limit})

    def media_download(self, media_id: str):
        """media/get: a requests Response with the bytes (or a dict when WeCom answers JSON)."""
        return self._get("media/get", params={"media_id": media_id})


class KfClient(WeComClient):
    """wechatpy's WeCom client with the kf API and a configurable base URL (token endpoint too).

    The access token is kept in Django's cache under wechatpy's per-(corp, secret) key, shared by
    every worker and every channel of the same WeCom corp; wechatpy fetches a new one when the
    API answers 40001/40014/42001.
    """

    kf = WeChatKfAPI()

    def __init__(self, *, corp_id: str, secret: str, api_base_url: str, timeout: float = 5):
        super().__init__(corp_id, secret, session=CacheSessionStorage(), timeout=timeout)
        self.API_BASE_URL = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
        guard_requests_session(self._http)  # every call (redirects too) through apps.outbound's guard

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.API_BASE_URL + "gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )


def api_base_url(channel) -> str:
    return channel.cfg("api_base_url") or getattr(settings, "WECOM_API_BASE_URL", DEFAULT_API_BASE_URL)


def client_for(channel) -> KfClient:
    return KfClient(corp_id=channel.cfg("corp_id"), secret=channel.cfg("secret"), api_base_url=api_base_url(channel))


def decrypt(*, encoding_aes_key: str, corp_id: str, encrypt: str) -> str:
    """wechatpy's WeCom decryption; the plaintext must name our CorpID (receiveid)."""
    try:
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("bad key length")
        return PrpCrypto(key).decrypt(encrypt, corp_id)
    except InvalidCorpIdException:
        raise WeChatRejected("wechat_wrong_corp", _("The message was encrypted for another CorpID."), status=403)
    except Exception:  # noqa: BLE001 - bad base64, padding, length, UTF-8: all the sender's fault
        raise WeChatRejected("wechat_bad_ciphertext", _("The encrypted message could not be decrypted."))
