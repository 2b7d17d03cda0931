"""Mini-program customer-service messages (小程序客服消息): plain and safe mode, XML and JSON,
text, image and mini-program cards both ways, temporary media, the reply window and quota —
against a local server speaking WeChat's customer-service API, wechatpy making the calls."""

from __future__ import annotations

import io
import json
import time
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image
from wechatpy.crypto import WeChatCrypto

from apps.channels import services
from apps.channels.models import ChannelKind, DeliveryStatus, InboundMessage, OutboundDelivery
from apps.conversations.models import Conversation
from apps.customers.models import CustomerIdentity
from apps.messaging.models import Message
from apps.messaging.services import message_create

from .conftest import AES_KEY, MINI_APP_ID, TOKEN, signature

MINI_ORIGINAL_ID = "gh_mini000000001"


def _fields(openid: str, msg_id: int, **extra) -> dict:
    return {
        "ToUserName": MINI_ORIGINAL_ID,
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgId": msg_id,
        **extra,
    }


def _xml(fields: dict) -> str:
    inner = "".join(
        f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>"


class MiniSender:
    """Posts to our push URL the way WeChat does for a mini-program, in the console's mode and format."""

    def __init__(self, client, channel, *, safe: bool, fmt: str = "xml"):
        self.client, self.channel, self.safe, self.fmt = client, channel, safe, fmt

    def post(self, fields: dict, *, app_id: str = MINI_APP_ID, tamper: str = ""):
        plain = json.dumps(fields, ensure_ascii=False) if self.fmt == "json" else _xml(fields)
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:12]
        params = {"timestamp": timestamp, "nonce": nonce, "signature": signature(TOKEN, timestamp, nonce)}
        body = plain
        if self.safe:
            import xmltodict

            sealed = xmltodict.parse(WeChatCrypto(TOKEN, AES_KEY, app_id).encrypt_message(plain, nonce, timestamp))
            encrypt, params["msg_signature"] = sealed["xml"]["Encrypt"], sealed["xml"]["MsgSignature"]
            params["encrypt_type"] = "aes"
            if self.fmt == "json":
                body = json.dumps({"ToUserName": MINI_ORIGINAL_ID, "Encrypt": encrypt})
            else:
                body = f"<xml><ToUserName><![CDATA[{MINI_ORIGINAL_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        if tamper == "signature":
            params["signature"] = "0" * 40
        query = "&".join(f"{k}={v}" for k, v in params.items())
        content_type = "application/json" if self.fmt == "json" else "text/xml"
        return self.client.post(f"/wechat-mini/{self.channel.key}/?{query}", data=body, content_type=content_type)


def _channel(org, base: str, *, safe: bool, **extra):
    config = {
        "app_id": MINI_APP_ID,
        "app_secret": "mini-secret",
        "token": TOKEN,
        "original_id": MINI_ORIGINAL_ID,
        "api_base_url": f"{base}/cgi-bin/",
        **({"encoding_aes_key": AES_KEY} if safe else {}),
        **extra,
    }
    return services.channel_create(
        tenant=org.tenant, actor=org.admin, name="小程序", kind=ChannelKind.MINIPROGRAM, branch=org.sh, config=config
    )


def _png(w=52, h=42) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), "orange").save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.smoke
def test_url_verification_echoes_only_when_signed(client, org_a, fake_remote):
    channel = _channel(org_a, fake_remote[0], safe=True)
    ts, nonce = str(int(time.time())), "n1"
    url = f"/wechat-mini/{channel.key}/"
    ok = client.get(url, {"timestamp": ts, "nonce": nonce, "signature": signature(TOKEN, ts, nonce), "echostr": "e7"})
    assert ok.status_code == 200 and ok.content == b"e7"
    bad = client.get(url, {"timestamp": ts, "nonce": "n2", "signature": "f" * 40, "echostr": "e7"})
    assert bad.status_code == 403


@pytest.mark.smoke
@pytest.mark.parametrize(("safe", "fmt"), [(False, "xml"), (False, "json"), (True, "xml"), (True, "json")])
def test_text_image_and_card_messages_arrive_in_every_mode_and_format(
    safe, fmt, client, org_a, fake_remote, django_capture_on_commit_callbacks
):
    base, rec = fake_remote
    rec.media["MEDIA_IMG"] = ("image/png", "p.png", _png())
    channel = _channel(org_a, base, safe=safe)
    sender = MiniSender(client, channel, safe=safe, fmt=fmt)
    with django_capture_on_commit_callbacks(execute=True):
        for fields in (
            _fields("oMini1", 11, MsgType="text", Content="我的快递到哪了"),
            _fields("oMini1", 12, MsgType="image", PicUrl="http://mmbiz.example/1.jpg", MediaId="MEDIA_IMG"),
            _fields(
                "oMini1",
                13,
                MsgType="miniprogrampage",
                Title="订单详情",
                AppId=MINI_APP_ID,
                PagePath="pages/order/detail?id=9",
                ThumbUrl="http://mmbiz.example/t.jpg",
                ThumbMediaId="THUMB1",
            ),
        ):
            response = sender.post(fields)
            assert response.status_code == 200 and response.content == b"success", response.content
    conversation = Conversation.objects.get()
    assert conversation.customer.identities.get().kind == "miniprogram"
    text, image, card = conversation.messages.order_by("seq")
    assert (text.content_type, text.body) == ("text", "我的快递到哪了")
    assert image.content_type == "image" and image.payload["attachment"]["width"] == 52
    assert card.payload["card"]["pagepath"] == "pages/order/detail?id=9" and "订单详情" in card.body


def test_redelivered_and_forged_pushes_change_nothing(client, org_a, fake_remote, django_capture_on_commit_callbacks):
    channel = _channel(org_a, fake_remote[0], safe=True)
    sender = MiniSender(client, channel, safe=True, fmt="json")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):  # WeChat retries with the same MsgId
            assert sender.post(_fields("oMini2", 21, MsgType="text", Content="在吗")).status_code == 200
        forged = sender.post(_fields("oMini2", 22, MsgType="text", Content="伪造"), tamper="signature")
        foreign = sender.post(_fields("oMini2", 23, MsgType="text", Content="别的小程序"), app_id="wxOTHER0000000000")
    assert forged.status_code == 403 and foreign.status_code == 403
    assert InboundMessage.objects.count() == 1 and Message.objects.count() == 1
    plain = MiniSender(client, channel, safe=False, fmt="json")
    refused = plain.post(_fields("oMini2", 24, MsgType="text", Content="明文"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "wechat_plain_refused"


def test_entering_from_the_contact_button_is_recorded(client, org_a, fake_remote, django_capture_on_commit_callbacks):
    channel = _channel(org_a, fake_remote[0], safe=False)
    sender = MiniSender(client, channel, safe=False, fmt="xml")
    event = {k: v for k, v in _fields("oMini3", 0).items() if k != "MsgId"}
    with django_capture_on_commit_callbacks(execute=True):
        sender.post({**event, "MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": "order-9"})
    customer = CustomerIdentity.objects.get(kind="miniprogram", value="oMini3").customer
    assert customer.attributes["miniprogram_session_from"] == "order-9"
    assert Conversation.objects.count() == 0


def _served(client, org, fake_remote, capture, **extra):
    channel = _channel(org, fake_remote[0], safe=False, **extra)
    with capture(execute=True):
        MiniSender(client, channel, safe=False).post(_fields("oMiniR", 31, MsgType="text", Content="你好"))
    return channel, Conversation.objects.get()


def test_agent_text_image_and_card_go_out_through_the_customer_service_api(
    client, org_a, fake_remote, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.messaging.attachments import attachment_create, attachment_message_fields

    base, rec = fake_remote
    thumb = default_storage.save(f"channel-assets/{uuid.uuid4().hex}.png", ContentFile(_png(520, 416)))
    channel, conversation = _served(
        client,
        org_a,
        fake_remote,
        django_capture_on_commit_callbacks,
        card_thumb=thumb,
        cards=[{"title": "查物流", "pagepath": "pages/track/index?no=SF1"}],
    )
    upload = SimpleUploadedFile("label.png", _png(), content_type="image/png")
    attachment = attachment_create(conversation=conversation, upload=upload, user=org_a.agent_sh)
    content_type, payload = attachment_message_fields(conversation=conversation, attachment_id=attachment.pk)
    from apps.accounts.services import agent_set_status

    with django_capture_on_commit_callbacks(execute=True):
        agent_set_status(agent=org_a.agent_sh, status="online")  # dispatch gives them the waiting customer
    conversation.refresh_from_db()
    assert conversation.assignee_id == org_a.agent_sh.pk
    client.force_login(org_a.agent_sh)
    with django_capture_on_commit_callbacks(execute=True):
        message_create(conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="您好")
        message_create(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user=org_a.agent_sh,
            content_type=content_type,
            payload=payload,
        )
        card = client.post(
            f"/api/v1/channels/conversations/{conversation.pk}/miniprogram-card/",
            {"card": 0, "client_msg_id": "card-1"},
            content_type="application/json",
        )
    assert card.status_code == 201, card.content
    sends = [r["json"] for r in rec.requests if r["path"].endswith("/message/custom/send")]
    assert sends == [
        {"touser": "oMiniR", "msgtype": "text", "text": {"content": "您好"}},
        {"touser": "oMiniR", "msgtype": "image", "image": {"media_id": "MEDIA_UPLOADED_1"}},
        {
            "touser": "oMiniR",
            "msgtype": "miniprogrampage",
            "miniprogrampage": {
                "title": "查物流",
                "pagepath": "pages/track/index?no=SF1",
                "thumb_media_id": "MEDIA_UPLOADED_1",
            },
        },
    ]
    uploads = [r for r in rec.requests if r["path"].endswith("/media/upload")]
    assert [r["query"]["type"] for r in uploads] == [["image"], ["image"]]  # the photo, then the card cover
    assert set(OutboundDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    # A card that does not exist, or in another tenant's reach, changes nothing.
    bad = client.post(
        f"/api/v1/channels/conversations/{conversation.pk}/miniprogram-card/", {"card": 5}, "application/json"
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_card"


def test_sixth_reply_waits_for_the_customer_and_wechat_limits_are_respected(
    client, org_a, fake_remote, django_capture_on_commit_callbacks
):
    base, rec = fake_remote
    channel, conversation = _served(client, org_a, fake_remote, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(6):
            message_create(
                conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body=f"r{i}"
            )
    sends = [r for r in rec.requests if r["path"].endswith("/message/custom/send")]
    assert len(sends) == 5
    assert conversation.messages.filter(payload__code="reply_quota_used").count() == 1
    # WeChat's own refusal (45047) is shown the same way and not retried.
    with django_capture_on_commit_callbacks(execute=True):
        MiniSender(client, channel, safe=False).post(_fields("oMiniR", 32, MsgType="text", Content="还有"))
    rec.send_errors = [45047]
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_create(
            conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="好"
        )
    delivery = OutboundDelivery.objects.get(message=reply)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SKIPPED, 1)
    assert conversation.messages.filter(payload__code="reply_quota_used").count() == 2


def test_outbound_retries_after_server_errors(client, org_a, fake_remote, django_capture_on_commit_callbacks):
    base, rec = fake_remote
    channel, conversation = _served(client, org_a, fake_remote, django_capture_on_commit_callbacks)
    rec.fail_next = [500, 503]
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_create(
            conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="稍等"
        )
    delivery = OutboundDelivery.objects.get(message=reply)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)


def test_image_message_keeps_the_remote_reference_when_media_is_gone(
    client, org_a, fake_remote, django_capture_on_commit_callbacks
):
    channel = _channel(org_a, fake_remote[0], safe=False)
    with django_capture_on_commit_callbacks(execute=True):
        MiniSender(client, channel, safe=False).post(
            _fields("oMini4", 41, MsgType="image", PicUrl="http://mmbiz.example/x.jpg", MediaId="GONE")
        )
    message = Message.objects.get()
    assert message.payload["url"] == "http://mmbiz.example/x.jpg" and message.payload["media_error"] == "wechat_40007"


@pytest.mark.mysql
def test_concurrent_pushes_of_one_msgid_create_one_message(transactional_db, org_a, fake_remote):
    """WeChat's retries can overlap a slow first push: the unique row decides, not timing."""
    import threading

    from django.db import connection
    from django.test import Client

    if connection.vendor != "mysql":
        pytest.skip("needs MariaDB/MySQL: SQLite serialises all writers, so pushes cannot overlap")
    channel = _channel(org_a, fake_remote[0], safe=True)
    barrier = threading.Barrier(4)
    results = []

    def push():
        try:
            sender = MiniSender(Client(), channel, safe=True, fmt="json")
            barrier.wait()
            results.append(sender.post(_fields("oRace", 777, MsgType="text", Content="在吗")).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200, 200]
    assert InboundMessage.objects.filter(channel=channel).count() == 1
    assert Message.objects.filter(conversation__channel=channel).count() == 1
