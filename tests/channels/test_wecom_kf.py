"""WeChat Customer Service (微信客服, WeCom kf API): callback security, the cursor pull, session
states, replies and their limits — against a local server speaking the kf API's contract, with
wechatpy's client and crypto making the calls."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from apps.channels import services, wecom_services
from apps.channels.models import ChannelKind, DeliveryStatus, InboundMessage, OutboundDelivery, SyncCursor
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_close
from apps.customers.models import CustomerIdentity
from apps.messaging.models import Message
from apps.messaging.services import message_create

from .conftest import wecom_config
from .wecom_server import CORP_ID, OPEN_KFID, WeComCallback


@pytest.fixture
def callback(client, wecom_channel):
    return WeComCallback(client, wecom_channel)


def _notify(callback, wecom, capture):
    with capture(execute=True):
        response = callback.notify(wecom.state.new_callback_token())
    assert response.status_code == 200, response.content
    return response


def _reply(conversation, agent, body="您好", **kw):
    return message_create(conversation_id=conversation.pk, sender_kind="agent", sender_user=agent, body=body, **kw)


# --- callback security ----------------------------------------------------------------------------


@pytest.mark.smoke
def test_url_verification_answers_the_decrypted_echostr(callback):
    ok = callback.verify_url("1616140317555161061")
    assert ok.status_code == 200 and ok.content == b"1616140317555161061"
    bad = callback.verify_url("1616140317555161061", tamper=True)
    assert bad.status_code == 403 and b"1616140317555161061" not in bad.content


def test_echostr_sealed_for_another_corp_is_refused(client, wecom_channel):
    other = WeComCallback(client, wecom_channel, corp_id="wwSOMEBODYELSE0000")
    response = other.verify_url("42")
    assert response.status_code == 403 and response.json()["error"]["code"] == "wechat_wrong_corp"


@pytest.mark.smoke
def test_forged_stale_or_replayed_callbacks_pull_nothing(callback, wecom, django_capture_on_commit_callbacks):
    wecom.state.customer_writes("wmCustomer1")
    token = wecom.state.new_callback_token()
    with django_capture_on_commit_callbacks(execute=True):
        forged = callback.notify(token, tamper="signature")
        stale = callback.notify(token, timestamp=str(int(time.time()) - 3600))
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "wechat_bad_signature"
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "wechat_stale_timestamp"
    assert not wecom.state.paths("kf/sync_msg") and InboundMessage.objects.count() == 0


# --- the pull ------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_callback_pulls_messages_into_one_conversation_and_claims_the_session(
    callback, wecom, wecom_channel, django_capture_on_commit_callbacks
):
    st = wecom.state
    st.nicknames["wmAlice"] = "爱丽丝"
    st.customer_writes("wmAlice", content="我的快递到哪了？")
    st.customer_writes("wmAlice", content="单号 SF1234567890")
    _notify(callback, wecom, django_capture_on_commit_callbacks)

    conversation = Conversation.objects.get()
    assert conversation.channel_id == wecom_channel.pk and conversation.branch_id == wecom_channel.branch_id
    assert conversation.customer.display_name == "爱丽丝"
    assert CustomerIdentity.objects.get(customer=conversation.customer).kind == "wecom_kf"
    assert list(conversation.messages.values_list("sender_kind", "body")) == [
        ("visitor", "我的快递到哪了？"),
        ("visitor", "单号 SF1234567890"),
    ]
    sync = st.paths("kf/sync_msg")[0]["json"]
    assert sync["open_kfid"] == OPEN_KFID and sync["token"].startswith("ENC") and "cursor" not in sync
    # The API may answer only sessions in state 0/1: the new session was taken as 由智能助手接待.
    assert st.states[(OPEN_KFID, "wmAlice")] == 1
    assert [r["json"]["service_state"] for r in st.paths("kf/service_state/trans")] == [1]

    # The next callback reads on from the stored cursor and takes only what is new.
    kept = SyncCursor.objects.get(channel=wecom_channel)
    assert kept.cursor and kept.version == 1 and kept.messages_taken == 2
    st.customer_writes("wmAlice", content="还在吗")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    assert st.paths("kf/sync_msg")[-1]["json"]["cursor"] == kept.cursor
    assert list(conversation.messages.values_list("body", flat=True))[-1] == "还在吗"
    assert Message.objects.count() == 3 and InboundMessage.objects.count() == 3


def test_pages_are_read_to_the_end_in_order(callback, wecom, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(wecom_services, "PULL_LIMIT", 3)
    for i in range(8):
        wecom.state.customer_writes("wmBob", content=f"第{i}条")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    assert [r["json"].get("limit") for r in wecom.state.paths("kf/sync_msg")] == [3, 3, 3]
    assert list(Message.objects.order_by("seq").values_list("body", flat=True)) == [f"第{i}条" for i in range(8)]


def test_cursor_survives_a_restart_and_nothing_is_skipped_or_taken_twice(
    callback, wecom, wecom_channel, monkeypatch, django_capture_on_commit_callbacks
):
    """The worker dies after reading page 2 but before storing it: page 2 is read again after
    the restart, from the cursor the database kept, and every message arrives exactly once."""
    monkeypatch.setattr(wecom_services, "PULL_LIMIT", 2)
    sent = [wecom.state.customer_writes("wmCarol", content=f"m{i}") for i in range(6)]
    real_store = wecom_services._store_page
    calls = {"n": 0}

    def crash_on_second_page(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(wecom_services, "_store_page", crash_on_second_page)
    with pytest.raises(SystemExit):
        _notify(callback, wecom, django_capture_on_commit_callbacks)
    kept = SyncCursor.objects.get(channel=wecom_channel)
    assert kept.version == 1 and InboundMessage.objects.count() == 2

    # Restart: a new process has no lease, no memory, no client; the database has the cursor.
    from django.core.cache import cache

    cache.delete_pattern("*")
    monkeypatch.setattr(wecom_services, "_store_page", real_store)
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    cursors = [r["json"].get("cursor", "") for r in wecom.state.paths("kf/sync_msg")]
    assert cursors[2] == kept.cursor == cursors[1]  # page 2 read again from the kept cursor
    assert sorted(InboundMessage.objects.values_list("external_id", flat=True)) == sorted(sent)
    assert list(Message.objects.order_by("seq").values_list("body", flat=True)) == [f"m{i}" for i in range(6)]


def test_overlapping_pulls_cannot_move_the_cursor_back(wecom, wecom_channel, monkeypatch):
    """Two readers that bypass the lease (a lease expired under a stuck worker): the one that
    stores second finds the cursor moved and reads on; nothing is stored twice."""
    monkeypatch.setattr(wecom_services, "PULL_LIMIT", 2)
    for i in range(5):
        wecom.state.customer_writes("wmDan", content=f"d{i}")
    row = SyncCursor.objects.create(tenant_id=wecom_channel.tenant_id, channel=wecom_channel)
    stale = SyncCursor.objects.get(pk=row.pk)
    assert wecom_services._pull_pages(wecom_channel.pk) == 5
    with pytest.raises(wecom_services._CursorMoved):
        wecom_services._store_page(wecom_channel, stale, {"next_cursor": "", "msg_list": []}, [], {})
    assert SyncCursor.objects.get(pk=row.pk).version == 3
    assert wecom_services._pull_pages(wecom_channel.pk) == 0
    assert Message.objects.count() == 5


def test_callback_for_another_tenants_account_pulls_nothing(callback, wecom, org_b, django_capture_on_commit_callbacks):
    services.channel_create(
        tenant=org_b.tenant,
        actor=org_b.admin,
        name="B 客服",
        kind=ChannelKind.WECOM_KF,
        config=wecom_config(wecom.base_url, open_kfid="wkOTHERTENANT"),
    )
    wecom.state.customer_writes("wmEve", open_kfid="wkOTHERTENANT")
    with django_capture_on_commit_callbacks(execute=True):
        assert callback.notify(wecom.state.new_callback_token(), open_kfid="wkOTHERTENANT").status_code == 200
    assert not wecom.state.paths("kf/sync_msg") and InboundMessage.objects.count() == 0


def test_expired_callback_token_falls_back_to_a_tokenless_read(
    wecom, wecom_channel, django_capture_on_commit_callbacks
):
    wecom.state.customer_writes("wmFay")
    with django_capture_on_commit_callbacks(execute=True):
        wecom_services.pull_request(channel_id=wecom_channel.pk, token="ENCexpired")
    reads = wecom.state.paths("kf/sync_msg")
    assert [r["json"].get("token") for r in reads] == ["ENCexpired", None]
    assert Message.objects.count() == 1


@pytest.mark.mysql
def test_concurrent_callbacks_store_every_message_exactly_once(transactional_db, org_a, wecom):
    """Eight callbacks at once while customers keep writing: one reader at a time, the others
    make it read again; every msgid becomes exactly one message."""
    import threading

    from django.db import connection
    from django.test import Client

    if connection.vendor != "mysql":
        pytest.skip("needs MariaDB/MySQL: SQLite serialises all writers, so pulls cannot overlap")
    channel = services.channel_create(
        tenant=org_a.tenant,
        actor=org_a.admin,
        name="微信客服",
        kind=ChannelKind.WECOM_KF,
        branch=org_a.sh,
        config=wecom_config(wecom.base_url),
    )
    st = wecom.state
    st.sync_delay = 0.02
    expected = [st.customer_writes(f"wmUser{i % 3}", content=f"c{i}") for i in range(30)]
    barrier = threading.Barrier(8)
    errors = []

    def fire(n):
        try:
            barrier.wait()
            expected.append(st.customer_writes(f"wmUser{n % 3}", content=f"late{n}"))
            response = WeComCallback(Client(), channel).notify(st.new_callback_token())
            assert response.status_code == 200
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stored = list(InboundMessage.objects.filter(channel=channel).values_list("external_id", flat=True))
    assert sorted(stored) == sorted(expected)
    assert Message.objects.filter(conversation__channel=channel).count() == len(expected)
    assert Conversation.objects.filter(channel=channel).count() == 3


# --- replies ---------------------------------------------------------------------------------------------


def _served(callback, wecom, capture, external_userid="wmGus"):
    wecom.state.customer_writes(external_userid, content="你好")
    _notify(callback, wecom, capture)
    return Conversation.objects.get()


@pytest.mark.smoke
def test_agent_text_reply_goes_out_with_send_msg(callback, wecom, org_a, django_capture_on_commit_callbacks):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        reply = _reply(conversation, org_a.agent_sh, "您好，已为您查询")
    delivery = OutboundDelivery.objects.get(message=reply)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert wecom.state.sent == [
        {
            "touser": "wmGus",
            "open_kfid": OPEN_KFID,
            "msgtype": "text",
            "text": {"content": "您好，已为您查询"},
            "msgid": f"kf{delivery.pk}",
        }
    ]
    assert wecom.state.tokens_issued == 1


def test_image_and_file_replies_are_uploaded_as_temporary_media(
    callback, wecom, org_a, django_capture_on_commit_callbacks
):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from apps.messaging.attachments import attachment_create, attachment_message_fields

    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), "blue").save(buf, "PNG")
    uploads = [
        SimpleUploadedFile("waybill.png", buf.getvalue(), content_type="image/png"),
        SimpleUploadedFile("notice.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n", "application/pdf"),
    ]
    for upload in uploads:
        attachment = attachment_create(conversation=conversation, upload=upload, user=org_a.agent_sh)
        content_type, payload = attachment_message_fields(conversation=conversation, attachment_id=attachment.pk)
        with django_capture_on_commit_callbacks(execute=True):
            _reply(conversation, org_a.agent_sh, "", content_type=content_type, payload=payload)
    assert [r["query"]["type"] for r in wecom.state.paths("media/upload")] == [["image"], ["file"]]
    assert [(m["msgtype"], m[m["msgtype"]]) for m in wecom.state.sent] == [
        ("image", {"media_id": "MEDIA_image_1"}),
        ("file", {"media_id": "MEDIA_file_2"}),
    ]


def test_bot_buttons_become_a_menu_and_a_tap_comes_back_as_the_button(
    callback, wecom, django_capture_on_commit_callbacks
):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    buttons = [{"label": "查快递", "payload": {"kb_action": "ask", "entry_id": 7}}, {"label": "转人工", "payload": {}}]
    with django_capture_on_commit_callbacks(execute=True):
        bot = message_create(
            conversation_id=conversation.pk, sender_kind="bot", body="您想办理：", payload={"buttons": buttons}
        )
    menu = wecom.state.sent[-1]
    assert menu["msgtype"] == "msgmenu" and menu["msgmenu"] == {
        "head_content": "您想办理：",
        "list": [
            {"type": "click", "click": {"id": f"{bot.pk}.0", "content": "查快递"}},
            {"type": "click", "click": {"id": f"{bot.pk}.1", "content": "转人工"}},
        ],
    }
    wecom.state.customer_writes("wmGus", content="查快递", menu_id=f"{bot.pk}.0")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    tapped = conversation.messages.order_by("-seq").first()
    assert tapped.body == "查快递" and tapped.payload["kb_action"] == "ask" and tapped.payload["entry_id"] == 7


def test_five_replies_per_customer_message_and_the_workbench_shows_what_is_left(
    callback, wecom, org_a, client, django_capture_on_commit_callbacks
):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    client.force_login(org_a.agent_sh)
    url = f"/api/v1/workbench/conversations/{conversation.pk}/customer/"
    window = client.get(url).json()["reply_window"]
    assert (window["quota"], window["remaining"], window["hours"], window["open"]) == (5, 5, 48, True)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(6):
            _reply(conversation, org_a.agent_sh, f"回复{i}")
    assert len(wecom.state.sent) == 5  # the sixth was never attempted
    statuses = list(OutboundDelivery.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [DeliveryStatus.SUCCEEDED] * 5 + [DeliveryStatus.SKIPPED]
    notice = conversation.messages.filter(visibility="staff").get()
    assert notice.payload["code"] == "reply_quota_used" and "5" in notice.body
    window = client.get(url).json()["reply_window"]
    assert (window["remaining"], window["open"]) == (0, False)
    # The customer writes again: five more.
    wecom.state.customer_writes("wmGus", content="好的")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    assert client.get(url).json()["reply_window"]["remaining"] == 5


def test_reply_after_48_hours_is_not_sent(callback, wecom, org_a, django_capture_on_commit_callbacks):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_visitor_message_at=timezone.now() - timezone.timedelta(hours=49)
    )
    with django_capture_on_commit_callbacks(execute=True):
        reply = _reply(conversation, org_a.agent_sh, "还在吗")
    assert OutboundDelivery.objects.get(message=reply).status == DeliveryStatus.SKIPPED
    assert not wecom.state.sent
    assert conversation.messages.filter(payload__code="wechat_window_closed").exists()


def test_failed_sends_are_retried_with_backoff_then_given_up(
    callback, wecom, org_a, django_capture_on_commit_callbacks
):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    wecom.state.fail_next = [502, 503]
    with django_capture_on_commit_callbacks(execute=True):
        first = _reply(conversation, org_a.agent_sh, "第一条")
    delivery = OutboundDelivery.objects.get(message=first)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert [m["text"]["content"] for m in wecom.state.sent] == ["第一条"]

    from apps.channels.tasks import MAX_DELIVERY_RETRIES

    wecom.state.fail_next = [500] * (MAX_DELIVERY_RETRIES + 1)
    with django_capture_on_commit_callbacks(execute=True):
        second = _reply(conversation, org_a.agent_sh, "第二条")
    delivery = OutboundDelivery.objects.get(message=second)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, MAX_DELIVERY_RETRIES + 1)
    assert conversation.messages.filter(payload__code="delivery_failed").exists()


def test_access_token_is_cached_and_fetched_again_when_wecom_rejects_it(
    callback, wecom, org_a, django_capture_on_commit_callbacks
):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        _reply(conversation, org_a.agent_sh, "一")
    assert wecom.state.tokens_issued == 1  # the pull, the claim and the reply shared it
    wecom.state.valid_tokens.clear()  # revoked: 40014
    with django_capture_on_commit_callbacks(execute=True):
        _reply(conversation, org_a.agent_sh, "二")
    assert wecom.state.tokens_issued == 2
    assert [m["text"]["content"] for m in wecom.state.sent] == ["一", "二"]
    assert wecom.state.paths("kf/send_msg")[-1]["query"]["access_token"] == ["WECOM_TOKEN_2"]


def test_session_taken_in_the_wecom_app_is_not_answered_from_here(
    callback, wecom, org_a, django_capture_on_commit_callbacks
):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    wecom.state.states[(OPEN_KFID, "wmGus")] = 3  # a servicer took it in the WeCom app
    with django_capture_on_commit_callbacks(execute=True):
        reply = _reply(conversation, org_a.agent_sh, "您好")
    assert OutboundDelivery.objects.get(message=reply).status == DeliveryStatus.SKIPPED
    assert conversation.messages.filter(payload__code="wecom_session_elsewhere").exists()
    # The servicer ends it there (4); the customer writes again (0): our replies go out again.
    wecom.state.states[(OPEN_KFID, "wmGus")] = 4
    wecom.state.customer_writes("wmGus", content="人呢")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        again = _reply(conversation, org_a.agent_sh, "再试")
    assert OutboundDelivery.objects.get(message=again).status == DeliveryStatus.SUCCEEDED


def test_closing_the_conversation_ends_the_wecom_session(callback, wecom, org_a, django_capture_on_commit_callbacks):
    conversation = _served(callback, wecom, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_close(conversation_id=conversation.pk, actor=None, reason="agent_closed")
    assert wecom.state.states[(OPEN_KFID, "wmGus")] == 4
    # The customer writes again: a new conversation and a new session, claimed again.
    wecom.state.customer_writes("wmGus", content="又来了")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    assert Conversation.objects.count() == 2 and wecom.state.states[(OPEN_KFID, "wmGus")] == 1


# --- events -------------------------------------------------------------------------------------------------


def test_platform_events_reach_the_agent(callback, wecom, org_a, wecom_channel, django_capture_on_commit_callbacks):
    wecom_channel.greeting = "您好，这里是顺丰客服"
    wecom_channel.save()
    st = wecom.state
    st.event("enter_session", external_userid="wmHal", scene="waybill", scene_param="SF1", welcome_code="WELCOME1")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    assert st.sent == [
        {
            "code": "WELCOME1",
            "msgtype": "text",
            "text": {"content": "您好，这里是顺丰客服"},
            "msgid": f"welcome{InboundMessage.objects.get().pk}",
        }
    ]
    customer = CustomerIdentity.objects.get(kind="wecom_kf", value="wmHal").customer
    assert customer.attributes["wecom_scene_param"] == "SF1"
    assert Conversation.objects.count() == 0  # entering is not writing

    conversation = _served(callback, wecom, django_capture_on_commit_callbacks, external_userid="wmHal")
    with django_capture_on_commit_callbacks(execute=True):
        reply = _reply(conversation, org_a.agent_sh, "收到")
    delivery = OutboundDelivery.objects.get(message=reply)
    st.event("msg_send_fail", external_userid="wmHal", fail_msgid=f"kf{delivery.pk}", fail_type=13)
    st.servicer_writes("wmHal", "zhangsan", "我来处理")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    codes = list(conversation.messages.filter(visibility="staff").values_list("payload__code", flat=True))
    assert codes == ["delivery_failed", "wecom_servicer_message"]
    assert "zhangsan" in conversation.messages.get(payload__code="wecom_servicer_message").body


def test_media_from_the_customer_is_copied_into_our_attachments(callback, wecom, django_capture_on_commit_callbacks):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (30, 20), "green").save(buf, "PNG")
    wecom.state.media["MEDIA_IN_1"] = ("image/png", "photo.png", buf.getvalue())
    wecom.state.customer_writes("wmIvy", msgtype="image", media_id="MEDIA_IN_1")
    wecom.state.customer_writes("wmIvy", msgtype="image", media_id="MEDIA_GONE")
    _notify(callback, wecom, django_capture_on_commit_callbacks)
    kept, gone = Message.objects.order_by("seq")
    assert kept.content_type == "image" and kept.payload["attachment"]["width"] == 30
    assert gone.content_type == "image" and gone.payload["media_error"] == "wechat_40007"
    assert [r["query"]["media_id"] for r in wecom.state.paths("media/get")] == [["MEDIA_IN_1"], ["MEDIA_GONE"]]


def test_corp_id_in_the_plaintext_must_be_ours(client, wecom_channel, wecom):
    wecom.state.customer_writes("wmJoe")
    sender = WeComCallback(client, wecom_channel, corp_id="wwIMPOSTOR000000")
    response = sender.notify(wecom.state.new_callback_token())
    assert response.status_code == 403 and response.json()["error"]["code"] == "wechat_wrong_corp"
    assert CORP_ID != "wwIMPOSTOR000000" and not wecom.state.paths("kf/sync_msg")
