"""Mini-program customer-service messages (小程序客服消息): the message-push callback and content.

The push is configured in the mini-program console (开发管理 → 开发设置 → 消息推送) with a URL,
Token, EncodingAESKey, an encryption mode (明文 / 兼容 / 安全模式) and a data format (XML or
JSON). Signatures and the safe-mode envelope are the official account's (apps.channels.wechat);
replies go out through wechatpy's client on the same customer-service API.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage

from apps.channels.wechat import WeChatRejected, parse_inbound, parse_xml_dict

IDENTITY_KIND = "miniprogram"
MEDIA_KINDS = {"image"}


def is_json(body: bytes) -> bool:
    return body.lstrip()[:1] == b"{"


def envelope(body: bytes) -> dict:
    """The outer document of a POST: XML (<xml>...</xml>) or JSON, whichever the console chose."""
    if is_json(body):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WeChatRejected("wechat_bad_json", _("The JSON body could not be parsed."))
        if not isinstance(data, dict):
            raise WeChatRejected("wechat_bad_json", _("The JSON body could not be parsed."))
        return data
    return parse_xml_dict(body)


def parse(text: str):
    """A wechatpy message or event from the (decrypted) XML or JSON text."""
    if text.lstrip()[:1] != "{":
        return parse_inbound(text)
    try:
        data = json.loads(text)
    except ValueError:
        raise WeChatRejected("wechat_bad_json", _("The JSON body could not be parsed."))
    if not isinstance(data, dict) or not isinstance(data.get("MsgType"), str):
        raise WeChatRejected("wechat_bad_json", _("The JSON body could not be parsed."))
    data = {k: v for k, v in data.items() if isinstance(v, str | int | float)}
    mtype = data["MsgType"].lower()
    if mtype == "event":
        cls = EVENT_TYPES.get(str(data.get("Event", "")).lower(), UnknownMessage)
    else:
        cls = MESSAGE_TYPES.get(mtype, UnknownMessage)
    try:
        return cls(data)
    except (TypeError, ValueError):
        raise WeChatRejected("wechat_bad_json", _("The JSON body could not be parsed."))


def inbound_fields(msg) -> tuple[str, str, dict]:
    """(external_id, kind, payload) of a mini-program message or event."""
    raw = dict(msg._data)
    mtype = str(raw.get("MsgType") or "").lower()
    if mtype == "event":
        event = str(raw.get("Event") or "").lower()
        # Events have no MsgId; FromUserName + CreateTime identify them.
        return (
            f"ev:{msg.source}:{raw.get('CreateTime', '')}:{event}",
            f"event:{event}"[:40],
            {"session_from": str(raw.get("SessionFrom") or "")[:200]},
        )
    names = {
        "Content": "content",
        "PicUrl": "pic_url",
        "MediaId": "media_id",
        "Title": "title",
        "AppId": "appid",
        "PagePath": "pagepath",
        "ThumbUrl": "thumb_url",
        "ThumbMediaId": "thumb_media_id",
    }
    payload = {ours: raw[theirs] for theirs, ours in names.items() if raw.get(theirs) is not None}
    msg_id = raw.get("MsgId") or raw.get("MsgID") or f"{msg.source}:{raw.get('CreateTime', '')}"
    return f"msg:{msg_id}", mtype[:40], payload


def inbound_content(inbound) -> tuple[str, str, dict] | None:
    """(content_type, body, payload) of the conversation message for a mini-program delivery."""
    p = inbound.payload
    base = {"source": "miniprogram"}
    if inbound.kind == "text":
        return "text", str(p.get("content", "")), base
    if inbound.kind == "image":
        return "image", "", {**base, "url": p.get("pic_url", ""), "media_id": p.get("media_id", "")}
    if inbound.kind == "miniprogrampage":
        card = {k: str(p.get(k) or "") for k in ("title", "appid", "pagepath", "thumb_url")}
        return "text", gettext("[Mini-program] %(title)s") % {"title": card["title"]}, {**base, "card": card}
    return None
