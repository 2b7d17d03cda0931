"""Public entry points served by this app: the WeChat callback and the widget pages."""

from __future__ import annotations

import logging
import time

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.decorators import ratelimit

from apps.channels import miniprogram, services, wechat, wecom, wecom_services, widget
from apps.channels.models import Channel, ChannelKind
from apps.core.errors import ApplicationError
from apps.core.ratelimit import public_rate

logger = logging.getLogger(__name__)


def _error(exc: ApplicationError) -> JsonResponse:
    return JsonResponse({"error": exc.as_dict()}, status=exc.status_code)


def _wechat_channel(key: str) -> Channel:
    channel = Channel.objects.filter(key=key, kind=ChannelKind.WECHAT, is_enabled=True).first()
    if channel is None:
        raise ApplicationError("not_found", _("Not found."), status=404)
    return channel


def _inbound_fields(msg) -> tuple[str, str, dict]:
    """(external_id, kind, payload) of a wechatpy message or event."""
    raw = dict(msg._data)
    mtype = (raw.get("MsgType") or "").lower()
    if mtype == "event":
        event = (raw.get("Event") or "").lower()
        kind = f"event:{event}"
        # Events have no MsgId; WeChat documents FromUserName + CreateTime as their identity.
        external_id = f"ev:{msg.source}:{raw.get('CreateTime', '')}:{event}"
        payload = {"key": raw.get("EventKey") or ""}
        if event.startswith("subscribe"):
            kind = "event:subscribe"
    else:
        kind = mtype
        external_id = f"msg:{raw.get('MsgId') or raw.get('MsgID') or ''}"
        if external_id == "msg:":
            external_id = f"msg:{msg.source}:{raw.get('CreateTime', '')}"
        names = {
            "Content": "content",
            "PicUrl": "pic_url",
            "MediaId": "media_id",
            "Format": "format",
            "Recognition": "recognition",
            "Title": "title",
            "Description": "description",
            "Url": "url",
            "Label": "label",
            "Location_X": "x",
            "Location_Y": "y",
            "FileKey": "file_key",
        }
        payload = {ours: raw[theirs] for theirs, ours in names.items() if raw.get(theirs) is not None}
    return external_id, kind, payload


@csrf_exempt
def wechat_callback(request: HttpRequest, key: str) -> HttpResponse:
    """WeChat's server URL for one official account (GET: URL verification, POST: messages)."""
    try:
        channel = _wechat_channel(key)
        q = request.GET
        _check_request(request, channel, signature=q.get("signature", ""), encrypt=None)
        if request.method == "GET":
            return HttpResponse(q.get("echostr", ""), content_type="text/plain")
        if request.method != "POST":
            return HttpResponse(status=405)
        unreadable = _("The XML body could not be parsed.")
        xml = _message_text(request, channel, envelope=wechat.parse_xml_dict, unreadable=unreadable)
        msg = wechat.parse_inbound(xml)
        if msg is None or not msg.source:
            raise wechat.WeChatRejected("wechat_bad_xml", unreadable)
        _check_addressee(channel, msg)
        external_id, kind, payload = _inbound_fields(msg)
        recorded = services.inbound_record(
            channel=channel, external_id=external_id, sender_id=msg.source, kind=kind, payload=payload
        )
    except UnicodeDecodeError:
        return _error(wechat.WeChatRejected("wechat_bad_xml", _("The XML body could not be parsed.")))
    except ApplicationError as exc:
        logger.info("wechat callback %s refused: %s", key, exc.code)
        return _error(exc)
    if kind == "event:subscribe" and recorded.created and channel.greeting:
        safe_mode = bool(channel.cfg("encoding_aes_key"))
        nonce = q.get("nonce", "")
        return _passive_text_reply(channel=channel, msg=msg, text=channel.greeting, nonce=nonce, safe_mode=safe_mode)
    # "success" tells WeChat we have it; the message is processed by a Celery task.
    return HttpResponse("success", content_type="text/plain")


def _message_text(request: HttpRequest, channel: Channel, *, envelope, unreadable) -> str:
    """A callback's message as text: in safe mode (the account has an EncodingAESKey; plain
    messages are refused then) the signed, decrypted envelope, else the body as sent."""
    body, q = _body(request), request.GET
    aes_key = channel.cfg("encoding_aes_key")
    if not aes_key:
        return body.decode("utf-8", errors="strict") if body else ""
    if q.get("encrypt_type", "").lower() != "aes":
        raise wechat.WeChatRejected(
            "wechat_plain_refused", _("This account only accepts safe-mode messages."), status=403
        )
    encrypted = envelope(body).get("Encrypt") or ""
    if not isinstance(encrypted, str) or not encrypted:
        raise wechat.WeChatRejected("wechat_bad_xml", unreadable)
    if not wechat.signature_valid(
        token=channel.cfg("token"),
        timestamp=q.get("timestamp", ""),
        nonce=q.get("nonce", ""),
        signature=q.get("msg_signature", ""),
        encrypt=encrypted,
    ):
        raise wechat.WeChatRejected("wechat_bad_signature", _("The signature is not valid."), status=403)
    return wechat.decrypt(encoding_aes_key=aes_key, app_id=channel.cfg("app_id"), encrypt=encrypted)


def _check_addressee(channel: Channel, msg) -> None:
    original_id = channel.cfg("original_id")
    if original_id and msg.target != original_id:
        raise wechat.WeChatRejected(
            "wechat_wrong_account", _("The message is addressed to another account."), status=403
        )


def _passive_text_reply(*, channel: Channel, msg, text: str, nonce: str, safe_mode: bool) -> HttpResponse:
    from wechatpy.replies import TextReply

    xml = TextReply(message=msg, content=text).render()
    if safe_mode:
        xml = wechat.encrypt(
            encoding_aes_key=channel.cfg("encoding_aes_key"),
            app_id=channel.cfg("app_id"),
            token=channel.cfg("token"),
            xml=xml,
            nonce=nonce,
            timestamp=str(int(time.time())),
        )
    return HttpResponse(xml, content_type="application/xml")


def _signed_channel(key: str, kind: str) -> Channel:
    channel = Channel.objects.filter(key=key, kind=kind, is_enabled=True).first()
    if channel is None:
        raise ApplicationError("not_found", _("Not found."), status=404)
    return channel


def _check_request(request: HttpRequest, channel: Channel, *, signature: str, encrypt: str | None) -> None:
    """Signature (constant time), timestamp window, one use per nonce."""
    q = request.GET
    timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
    wechat.check_timestamp(timestamp)
    if not wechat.signature_valid(
        token=channel.cfg("token"), timestamp=timestamp, nonce=nonce, signature=signature, encrypt=encrypt
    ):
        raise wechat.WeChatRejected("wechat_bad_signature", _("The signature is not valid."), status=403)
    wechat.claim_nonce(channel_id=channel.pk, timestamp=timestamp, nonce=nonce)


def _body(request: HttpRequest) -> bytes:
    body = request.body
    if len(body) > wechat.MAX_BODY_BYTES:
        raise wechat.WeChatRejected("wechat_too_large", _("The request body is too large."), status=413)
    return body


@csrf_exempt
def wecom_kf_callback(request: HttpRequest, key: str) -> HttpResponse:
    """WeChat Customer Service's callback URL (微信客服 → API → 回调配置).

    GET verifies the URL (echostr is encrypted: we answer with its plaintext); POST says
    "account X has news" and carries a Token for kf/sync_msg. The messages themselves are pulled
    by a task. Everything is signed with msg_signature and encrypted for our CorpID.
    """
    try:
        channel = _signed_channel(key, ChannelKind.WECOM_KF)
        q = request.GET
        aes_key, corp_id = channel.cfg("encoding_aes_key"), channel.cfg("corp_id")
        if request.method == "GET":
            echostr = q.get("echostr", "")
            _check_request(request, channel, signature=q.get("msg_signature", ""), encrypt=echostr)
            plain = wecom.decrypt(encoding_aes_key=aes_key, corp_id=corp_id, encrypt=echostr)
            return HttpResponse(plain, content_type="text/plain")
        if request.method != "POST":
            return HttpResponse(status=405)
        envelope = wechat.parse_xml_dict(_body(request))
        encrypted = envelope.get("Encrypt") or ""
        if not isinstance(encrypted, str) or not encrypted:
            raise wechat.WeChatRejected("wechat_bad_xml", _("The XML body could not be parsed."))
        _check_request(request, channel, signature=q.get("msg_signature", ""), encrypt=encrypted)
        event = wechat.parse_xml_dict(wecom.decrypt(encoding_aes_key=aes_key, corp_id=corp_id, encrypt=encrypted))
        if event.get("ToUserName") not in (None, corp_id):
            raise wechat.WeChatRejected(
                "wechat_wrong_account", _("The message is addressed to another account."), status=403
            )
        if str(event.get("Event") or "").lower() == "kf_msg_or_event":
            target = wecom_services.channel_for_account(channel=channel, open_kfid=str(event.get("OpenKfId") or ""))
            if target is not None:
                wecom_services.pull_request(channel_id=target.pk, token=str(event.get("Token") or ""))
            else:
                logger.info("wecom callback %s: no channel for account %s", key, event.get("OpenKfId"))
    except ApplicationError as exc:
        logger.info("wecom callback %s refused: %s", key, exc.code)
        return _error(exc)
    # WeCom expects an answer within 5 s; an empty 200 means "received, nothing to reply".
    return HttpResponse("", content_type="text/plain")


@csrf_exempt
def miniprogram_callback(request: HttpRequest, key: str) -> HttpResponse:
    """A mini-program's message-push URL (开发管理 → 开发设置 → 消息推送): plain, compatible or
    safe mode, XML or JSON."""
    try:
        channel = _signed_channel(key, ChannelKind.MINIPROGRAM)
        q = request.GET
        _check_request(request, channel, signature=q.get("signature", ""), encrypt=None)
        if request.method == "GET":
            return HttpResponse(q.get("echostr", ""), content_type="text/plain")
        if request.method != "POST":
            return HttpResponse(status=405)
        unreadable = _("The message body could not be parsed.")
        text = _message_text(request, channel, envelope=miniprogram.envelope, unreadable=unreadable)
        msg = miniprogram.parse(text)
        if msg is None or not msg.source:
            raise wechat.WeChatRejected("wechat_bad_xml", unreadable)
        _check_addressee(channel, msg)
        external_id, kind, payload = miniprogram.inbound_fields(msg)
        services.inbound_record(
            channel=channel, external_id=external_id, sender_id=msg.source, kind=kind, payload=payload
        )
    except UnicodeDecodeError:
        return _error(wechat.WeChatRejected("wechat_bad_xml", _("The message body could not be parsed.")))
    except ApplicationError as exc:
        logger.info("mini-program callback %s refused: %s", key, exc.code)
        return _error(exc)
    return HttpResponse("success", content_type="text/plain")


# --- the visitor widget ----------------------------------------------------------------------


@xframe_options_exempt
@never_cache
@ratelimit(key="ip", rate=public_rate, block=True)
def widget_frame(request: HttpRequest) -> HttpResponse:
    """The chat itself, served from our origin inside an iframe: the host page's CSS cannot reach it.

    CSP frame-ancestors lists the channel's allowed origins, so the browser refuses to show the
    chat framed by any other site. Opened directly, it is the full-page mobile H5 chat.
    """
    try:
        channel = widget.widget_channel_get(key=request.GET.get("channel", ""))
    except ApplicationError as exc:
        response = render(request, "channels/widget_unavailable.html", {"message": exc.message}, status=404)
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'self'; frame-ancestors *"
        return response
    config = widget.widget_config(channel)
    config.update(
        {
            "strings": widget.widget_strings(),
            "session_url": reverse("v1:visitor-session"),
            "ws_path": "/ws/visitor/",
            "api_base": "/api/v1/",
            "suggest_url": "/api/v1/kb/suggest/",
            "max_upload_bytes": 10 * 1024 * 1024,
        }
    )
    response = render(request, "channels/widget_frame.html", {"config": config, "company": config["company"]})
    host = request.get_host()
    response["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob: https: http:; "
        f"connect-src 'self' ws://{host} wss://{host}; script-src 'self'; style-src 'self'; "
        f"frame-ancestors {widget.frame_ancestors(channel)}; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
    response["Referrer-Policy"] = "same-origin"
    return response


def widget_demo(request: HttpRequest) -> HttpResponse:
    """A host page in the running system that embeds the widget like a customer's site would."""
    from django.conf import settings

    from apps.channels.demo import DEMO_TENANT_SLUG, DEMO_WEB_KEY

    # Only the demo tenant's own demo channel, and never in production: the page signs identities
    # with the channel's tenant secret for anyone who opens it.
    if not getattr(settings, "WIDGET_DEMO_ENABLED", False):
        raise Http404
    key = DEMO_WEB_KEY
    channel = (
        Channel.objects.select_related("tenant")
        .filter(key=key, kind=ChannelKind.WEB, tenant__slug=DEMO_TENANT_SLUG)
        .first()
    )
    if channel is None:
        raise Http404
    identity = None
    if channel is not None and request.GET.get("signed"):
        # What the tenant's own server does for a logged-in user: sign "{user_id}.{timestamp}".
        from apps.customers.services import identity_signature

        ts = int(time.time())
        user_id = "demo-member-1001"
        identity = {
            "user_id": user_id,
            "timestamp": ts,
            "name": "会员 王先生",
            "phone": "13800138000",
            "signature": identity_signature(secret=channel.tenant.identity_secret, user_id=user_id, timestamp=ts),
        }
    return render(request, "channels/widget_demo.html", {"channel": channel, "key": key, "identity": identity})
