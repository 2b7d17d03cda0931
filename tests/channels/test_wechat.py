"""WeChat official accounts (F5): callback security, deduplication, conversation entry, agent replies."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from wechatpy.fields import StringField

from apps.channels.models import DeliveryStatus, InboundMessage, OutboundDelivery
from apps.conversations.models import Conversation
from apps.customers.models import CustomerIdentity
from apps.messaging.models import Message
from apps.messaging.services import message_create

from .conftest import (
    APP_ID,
    ORIGINAL_ID,
    TOKEN,
    InboundEvent,
    InboundImage,
    WeChatSender,
    signature,
    text_message,
)


def _counts():
    return (
        InboundMessage.objects.count(),
        Conversation.objects.count(),
        Message.objects.count(),
        CustomerIdentity.objects.count(),
    )


@pytest.fixture
def safe(client, wechat_channel):
    return WeChatSender(client, wechat_channel, safe=True)


@pytest.fixture
def plain(client, wechat_plain_channel):
    return WeChatSender(client, wechat_plain_channel, safe=False)


@pytest.mark.smoke
def test_url_verification_echoes_echostr_only_with_valid_signature(client, wechat_channel):
    ts, nonce = str(int(time.time())), "n1"
    url = f"/wechat/{wechat_channel.key}/"
    ok = client.get(url, {"timestamp": ts, "nonce": nonce, "signature": signature(TOKEN, ts, nonce), "echostr": "e42"})
    assert ok.status_code == 200 and ok.content == b"e42"
    bad = client.get(url, {"timestamp": ts, "nonce": "n2", "signature": "f" * 40, "echostr": "e42"})
    assert bad.status_code == 403 and b"e42" not in bad.content


@pytest.mark.smoke
@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_text_message_creates_one_conversation_for_the_openid(mode, request, django_capture_on_commit_callbacks):
    sender = request.getfixturevalue(mode)
    with django_capture_on_commit_callbacks(execute=True):
        response = sender.post(text_message(openid="oAlice", content="我的快递到哪了？"))
    assert response.status_code == 200 and response.content == b"success"
    conversation = Conversation.objects.get()
    assert conversation.channel_id == sender.channel.pk
    assert conversation.customer.identities.get().value == "oAlice"
    message = conversation.messages.get()
    assert (message.sender_kind, message.content_type, message.body) == ("visitor", "text", "我的快递到哪了？")
    # A second message from the same openid joins the same conversation.
    with django_capture_on_commit_callbacks(execute=True):
        sender.post(text_message(openid="oAlice", content="单号 SF123", msg_id=1000002))
    assert Conversation.objects.count() == 1
    assert list(conversation.messages.values_list("seq", "body")) == [(1, "我的快递到哪了？"), (2, "单号 SF123")]


def test_four_deliveries_of_one_msgid_create_one_message(safe, django_capture_on_commit_callbacks):
    for _ in range(4):  # the original and WeChat's three retries, each with a fresh nonce
        with django_capture_on_commit_callbacks(execute=True):
            assert safe.post(text_message(msg_id=777)).content == b"success"
    assert InboundMessage.objects.count() == 1
    assert Message.objects.count() == 1


def test_image_click_and_subscribe_events_are_handled(safe, django_capture_on_commit_callbacks):
    safe.channel.greeting = "欢迎关注"
    safe.channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        sub = safe.post(InboundEvent(source="oBob", target=ORIGINAL_ID, event="subscribe", key=""))
    # The greeting is a passive reply, encrypted in safe mode.
    assert sub.status_code == 200 and b"<Encrypt>" in sub.content
    import xmltodict
    from wechatpy.crypto import WeChatCrypto

    from .conftest import AES_KEY

    env = xmltodict.parse(sub.content)["xml"]
    reply = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        sub.content, env["MsgSignature"], env["TimeStamp"], env["Nonce"]
    )
    assert "欢迎关注" in reply
    customer = CustomerIdentity.objects.get(kind="wechat", value="oBob").customer
    assert customer.attributes["wechat_subscribed"] is True
    assert Conversation.objects.count() == 0  # following alone does not open a chat
    with django_capture_on_commit_callbacks(execute=True):
        safe.post(InboundEvent(source="oBob", target=ORIGINAL_ID, event="CLICK", key="CONTACT_AGENT"))
        safe.post(
            InboundImage(
                source="oBob", target=ORIGINAL_ID, pic_url="http://mmbiz.example/p.jpg", media_id="MEDIA1", msg_id=5
            )
        )
    conversation = Conversation.objects.get()
    kinds = list(conversation.messages.values_list("content_type", "payload__url"))
    assert kinds == [("event", None), ("image", "http://mmbiz.example/p.jpg")]


# --- rejections: each leaves nothing behind ------------------------------------------------------


@pytest.mark.smoke
def test_bad_signature_is_rejected_without_side_effects(safe, plain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert safe.post(text_message(), tamper="signature").status_code == 403
        assert plain.post(text_message(), tamper="signature").status_code == 403
        assert plain.post(text_message(), token="wrong-token").status_code == 403
    assert _counts() == (0, 0, 0, 0)


def test_stale_timestamp_is_rejected(safe, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = safe.post(text_message(), timestamp=str(int(time.time()) - 3600))
    assert response.status_code == 403 and response.json()["error"]["code"] == "wechat_stale_timestamp"
    assert _counts() == (0, 0, 0, 0)


def test_replayed_nonce_is_rejected(plain, django_capture_on_commit_callbacks):
    ts = str(int(time.time()))
    with django_capture_on_commit_callbacks(execute=True):
        assert plain.post(text_message(msg_id=1), timestamp=ts, nonce="once").status_code == 200
    before = _counts()
    # Plain mode signs only token/timestamp/nonce: a replay could carry any body. The nonce cache stops it.
    with django_capture_on_commit_callbacks(execute=True):
        replay = plain.post(text_message(msg_id=2, content="injected"), timestamp=ts, nonce="once")
    assert replay.status_code == 403 and replay.json()["error"]["code"] == "wechat_replayed"
    assert _counts() == before


def test_message_encrypted_for_another_appid_is_rejected(safe, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = safe.post(text_message(), app_id="wxSOMEONEELSE0000")
    assert response.status_code == 403 and response.json()["error"]["code"] == "wechat_wrong_appid"
    assert _counts() == (0, 0, 0, 0)


def test_garbage_ciphertext_is_rejected(safe, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = safe.post(text_message(), tamper="ciphertext")
    assert response.status_code == 400 and response.json()["error"]["code"] == "wechat_bad_ciphertext"
    assert _counts() == (0, 0, 0, 0)


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>gh_test00000001</ToUserName><FromUserName>oEvil</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>9</MsgId></xml>"""


@pytest.mark.smoke
def test_xml_entity_bomb_is_rejected_in_both_modes(safe, plain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        a = plain.post(BOMB)
        b = safe.post(BOMB)  # the bomb inside a correctly encrypted envelope
    assert a.status_code == 400 and a.json()["error"]["code"] == "wechat_unsafe_xml"
    assert b.status_code == 400 and b.json()["error"]["code"] == "wechat_unsafe_xml"
    assert _counts() == (0, 0, 0, 0)


def test_plain_message_to_a_safe_mode_account_is_refused(client, wechat_channel, django_capture_on_commit_callbacks):
    sender = WeChatSender(client, wechat_channel, safe=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert sender.post(text_message()).status_code == 403
    assert _counts() == (0, 0, 0, 0)


def test_disabled_or_unknown_channel_is_404(client, safe, django_capture_on_commit_callbacks):
    safe.channel.is_enabled = False
    safe.channel.save()
    assert safe.post(text_message()).status_code == 404
    assert client.post("/wechat/nope/?timestamp=1&nonce=1&signature=x").status_code == 404
    assert _counts() == (0, 0, 0, 0)


# --- agent replies through the customer-service message API ---------------------------------------


def _conversation_from_wechat(sender, capture, openid="oCarol"):
    with capture(execute=True):
        sender.post(text_message(openid=openid, msg_id=4242))
    return Conversation.objects.get()


def test_agent_reply_reaches_wechat_customer_service_api(safe, org_a, fake_remote, django_capture_on_commit_callbacks):
    _base, rec = fake_remote
    conversation = _conversation_from_wechat(safe, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_create(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user=org_a.agent_sh,
            body="您好，已为您查询，快递今天送达。",
        )
    sends = [r for r in rec.requests if r["path"].endswith("/message/custom/send")]
    assert len(sends) == 1
    assert sends[0]["query"]["access_token"] == ["ACCESS_TOKEN_1"]
    assert sends[0]["json"] == {
        "touser": "oCarol",
        "msgtype": "text",
        "text": {"content": "您好，已为您查询，快递今天送达。"},
    }
    delivery = OutboundDelivery.objects.get(message=reply)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    # Running the task again (a broker redelivery) sends nothing more.
    from apps.channels.tasks import deliver_outbound

    deliver_outbound.apply(args=[delivery.pk])
    assert len([r for r in rec.requests if r["path"].endswith("/message/custom/send")]) == 1


def test_access_token_is_cached_and_refreshed_when_wechat_rejects_it(
    safe, org_a, fake_remote, django_capture_on_commit_callbacks
):
    _base, rec = fake_remote
    conversation = _conversation_from_wechat(safe, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        message_create(conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="一")
        message_create(conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="二")
    assert rec.tokens_issued == 1  # cached between sends
    rec.valid_tokens.clear()  # WeChat revoked it (40001)
    with django_capture_on_commit_callbacks(execute=True):
        message_create(conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="三")
    assert rec.tokens_issued == 2
    sends = [r for r in rec.requests if r["path"].endswith("/message/custom/send")]
    assert [s["json"]["text"]["content"] for s in sends] == ["一", "二", "三", "三"]
    assert sends[-1]["query"]["access_token"] == ["ACCESS_TOKEN_2"]
    assert set(OutboundDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


def test_reply_after_48_hours_is_not_sent_and_the_agent_is_told(
    safe, org_a, fake_remote, django_capture_on_commit_callbacks
):
    _base, rec = fake_remote
    conversation = _conversation_from_wechat(safe, django_capture_on_commit_callbacks)
    Conversation.objects.filter(pk=conversation.pk).update(last_visitor_message_at=timezone.now() - timedelta(hours=49))
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_create(
            conversation_id=conversation.pk, sender_kind="agent", sender_user=org_a.agent_sh, body="还在吗？"
        )
    assert not [r for r in rec.requests if r["path"].endswith("/message/custom/send")]
    assert OutboundDelivery.objects.get(message=reply).status == DeliveryStatus.SKIPPED
    notice = conversation.messages.order_by("-seq").first()
    assert (notice.sender_kind, notice.visibility, notice.payload["code"]) == (
        "system",
        "staff",
        "wechat_window_closed",
    )
    assert "48" in notice.body and "微信" in notice.body  # translated (zh-hans first)


def test_internal_notes_and_visitor_messages_are_not_sent_out(
    safe, org_a, fake_remote, django_capture_on_commit_callbacks
):
    _base, rec = fake_remote
    conversation = _conversation_from_wechat(safe, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        message_create(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user=org_a.agent_sh,
            body="内部备注",
            visibility="staff",
        )
    assert OutboundDelivery.objects.count() == 0
    assert not [r for r in rec.requests if r["path"].endswith("/message/custom/send")]


class InboundVoice(InboundImage):
    type = "voice"
    format = StringField("Format")
    recognition = StringField("Recognition")


def test_voice_message_keeps_the_recognised_text(plain, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        plain.post(
            InboundVoice(
                source="oDan",
                target=ORIGINAL_ID,
                media_id="VOICE1",
                format="amr",
                recognition="我的快递丢了",
                msg_id=31,
            )
        )
    message = Message.objects.get()
    assert (message.content_type, message.body) == ("file", "我的快递丢了")
    assert message.payload["kind"] == "voice" and message.payload["media_id"] == "VOICE1"


@pytest.mark.smoke
def test_callback_acknowledges_with_one_lookup_and_one_insert(safe, django_assert_num_queries):
    """The 5-second path: find the channel, store the delivery; everything else is in the task."""
    with django_assert_num_queries(4) as captured:  # channel, SAVEPOINT, INSERT, RELEASE
        assert safe.post(text_message(msg_id=99)).content == b"success"
    sql = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    assert sql.count("INSERT") == 1 and sql.count("SELECT") == 1


def test_agent_image_is_uploaded_and_sent_as_a_wechat_image(
    safe, org_a, fake_remote, django_capture_on_commit_callbacks
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from apps.messaging.attachments import attachment_create, attachment_message_fields

    _base, rec = fake_remote
    conversation = _conversation_from_wechat(safe, django_capture_on_commit_callbacks)
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buf, "PNG")
    upload = SimpleUploadedFile("waybill.png", buf.getvalue(), content_type="image/png")
    attachment = attachment_create(conversation=conversation, upload=upload, user=org_a.agent_sh)
    content_type, payload = attachment_message_fields(conversation=conversation, attachment_id=attachment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        message_create(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user=org_a.agent_sh,
            content_type=content_type,
            payload=payload,
        )
    paths = [r["path"] for r in rec.requests]
    assert paths[-2:] == ["/cgi-bin/media/upload", "/cgi-bin/message/custom/send"]
    assert rec.requests[-1]["json"] == {
        "touser": "oCarol",
        "msgtype": "image",
        "image": {"media_id": "MEDIA_UPLOADED_1"},
    }


@pytest.mark.mysql
def test_concurrent_deliveries_of_one_msgid_create_one_message(transactional_db, org_a, fake_remote):
    """WeChat's retries can overlap a slow first delivery: the unique row decides, not timing."""
    import threading

    from django.db import connection
    from django.test import Client

    if connection.vendor != "mysql":
        pytest.skip("needs MariaDB/MySQL: SQLite serialises all writers, so deliveries cannot overlap")
    from apps.channels import services as channel_services
    from apps.channels.models import ChannelKind

    from .conftest import AES_KEY

    base, _rec = fake_remote
    channel = channel_services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="公众号",
        kind=ChannelKind.WECHAT,
        config={
            "app_id": APP_ID,
            "app_secret": "s",
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "original_id": ORIGINAL_ID,
            "api_base_url": f"{base}/cgi-bin/",
        },
    )
    barrier = threading.Barrier(4)
    results = []

    def deliver():
        try:
            sender = WeChatSender(Client(), channel, safe=True)
            barrier.wait()
            results.append(sender.post(text_message(openid="oRace", msg_id=55555)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200, 200]
    assert InboundMessage.objects.filter(channel=channel).count() == 1
    assert Message.objects.filter(conversation__channel=channel).count() == 1
    assert Conversation.objects.filter(channel=channel).count() == 1


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_media_sent_on_wechat_is_copied_into_our_attachments(plain, fake_remote, django_capture_on_commit_callbacks):
    _base, rec = fake_remote
    rec.media["IMG1"] = ("image/png", "IMG1.png", _png())
    rec.media["VID1"] = {"video_url": "http://wx-video.example/v.mp4"}
    rec.media["EXE1"] = ("application/octet-stream", "setup.exe", b"MZ\x90\x00" + b"\x00" * 200)
    with django_capture_on_commit_callbacks(execute=True):
        plain.post(
            InboundImage(
                source="oEve", target=ORIGINAL_ID, pic_url="http://mmbiz.example/1.jpg", media_id="IMG1", msg_id=41
            )
        )
        plain.post(InboundVideo(source="oEve", target=ORIGINAL_ID, media_id="VID1", msg_id=42))
        plain.post(
            InboundImage(
                source="oEve", target=ORIGINAL_ID, pic_url="http://mmbiz.example/2.jpg", media_id="GONE", msg_id=43
            )
        )
        plain.post(
            InboundImage(
                source="oEve", target=ORIGINAL_ID, pic_url="http://mmbiz.example/3.jpg", media_id="EXE1", msg_id=44
            )
        )
    image, video, gone, exe = Message.objects.order_by("seq")
    att = image.payload["attachment"]
    assert (
        image.content_type == "image" and att["mime_type"] == "image/png" and (att["width"], att["height"]) == (40, 30)
    )
    assert att["url"] == f"/files/attachments/{att['id']}/" and image.payload["media_id"] == "IMG1"
    from apps.messaging.models import Attachment

    stored = Attachment.objects.get(pk=att["id"])
    assert stored.conversation_id == image.conversation_id and stored.tenant_id == image.tenant_id
    assert video.payload["url"] == "http://wx-video.example/v.mp4"
    # Nothing is lost when the media cannot be copied: the message arrives with the remote reference.
    assert gone.content_type == "image" and gone.payload["url"] == "http://mmbiz.example/2.jpg"
    assert gone.payload["media_error"] == "wechat_40007"
    assert exe.payload["media_error"] == "attachment_type_not_allowed" and "attachment" not in exe.payload
    downloads = [r for r in rec.requests if r["path"].endswith("/cgi-bin/media/get")]
    assert [r["query"]["media_id"] for r in downloads] == [["IMG1"], ["VID1"], ["GONE"], ["EXE1"]]


class InboundVideo(InboundImage):
    type = "video"
    thumb_media_id = StringField("ThumbMediaId")
