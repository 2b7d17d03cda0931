"""REST side: visitor sessions, history keyset paging, idempotent send, read marks, attachments."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from apps.conversations.models import Conversation
from apps.customers.models import CustomerIdentity
from apps.customers.services import identity_signature
from apps.messaging.models import Attachment, Message
from apps.messaging.services import message_create
from tests.messaging.conftest import ORIGIN

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

SESSIONS = "/api/v1/visitor/sessions/"


def messages_url(conversation_id):
    return f"/api/v1/im/conversations/{conversation_id}/messages/"


def visitor_auth(token):
    return {"HTTP_AUTHORIZATION": f"Visitor {token}"}


def signed_identity(tenant, user_id="u-42", **extra):
    ts = int(time.time())
    return {
        "user_id": user_id,
        "timestamp": ts,
        "signature": identity_signature(secret=tenant.identity_secret, user_id=user_id, timestamp=ts),
        **extra,
    }


def test_visitor_session_issues_a_token_that_opens_the_websocket_and_rest(api_client, im_a):
    response = api_client.post(SESSIONS, {"channel_key": im_a.channel.key}, format="json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["visitor_id"] and body["token"] and body["websocket_path"] == "/ws/visitor/"
    again = api_client.post(
        SESSIONS, {"channel_key": im_a.channel.key, "visitor_id": body["visitor_id"]}, format="json", HTTP_ORIGIN=ORIGIN
    ).json()
    assert again["customer_id"] == body["customer_id"]  # the same browser is the same customer
    start = api_client.post("/api/v1/visitor/conversations/", {}, format="json", **visitor_auth(body["token"]))
    assert start.status_code == 201
    listed = api_client.get("/api/v1/visitor/conversations/", **visitor_auth(body["token"])).json()
    assert [c["id"] for c in listed] == [start.json()["id"]]


def test_visitor_session_refuses_foreign_origin_unknown_channel_and_bad_signature(api_client, im_a):
    foreign = api_client.post(
        SESSIONS, {"channel_key": im_a.channel.key}, format="json", HTTP_ORIGIN="https://evil.example"
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (403, "origin_not_allowed")
    no_origin = api_client.post(SESSIONS, {"channel_key": im_a.channel.key}, format="json")
    assert no_origin.status_code == 403
    unknown = api_client.post(SESSIONS, {"channel_key": "nope"}, format="json", HTTP_ORIGIN=ORIGIN)
    assert unknown.status_code == 404
    identity = signed_identity(im_a.org.tenant)
    identity["signature"] = "0" * 64
    forged = api_client.post(
        SESSIONS, {"channel_key": im_a.channel.key, "identity": identity}, format="json", HTTP_ORIGIN=ORIGIN
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "invalid_signature")
    assert forged.json()["error"]["message"] == "身份签名无效。"
    old = signed_identity(im_a.org.tenant)
    old["timestamp"] -= 3 * 24 * 3600
    old["signature"] = identity_signature(
        secret=im_a.org.tenant.identity_secret, user_id="u-42", timestamp=old["timestamp"]
    )
    expired = api_client.post(
        SESSIONS, {"channel_key": im_a.channel.key, "identity": old}, format="json", HTTP_ORIGIN=ORIGIN
    )
    assert expired.json()["error"]["code"] == "identity_expired"
    assert CustomerIdentity.objects.filter(kind="external").count() == 0


def test_signed_identity_makes_history_follow_the_customer_across_devices(api_client, im_a):
    tenant = im_a.org.tenant
    phone = api_client.post(
        SESSIONS, {"channel_key": im_a.channel.key, "visitor_id": "phone-browser-1"}, format="json", HTTP_ORIGIN=ORIGIN
    ).json()
    conversation = api_client.post(
        "/api/v1/visitor/conversations/", {}, format="json", **visitor_auth(phone["token"])
    ).json()
    api_client.post(
        messages_url(conversation["id"]),
        {"body": "my parcel is late", "client_msg_id": "p1"},
        format="json",
        **visitor_auth(phone["token"]),
    )
    # logs in on the phone: the anonymous customer takes the identity
    logged_in = api_client.post(
        SESSIONS,
        {
            "channel_key": im_a.channel.key,
            "visitor_id": "phone-browser-1",
            "identity": signed_identity(tenant, name="Li Lei"),
        },
        format="json",
        HTTP_ORIGIN=ORIGIN,
    ).json()
    assert logged_in["customer_id"] == phone["customer_id"]
    # later, on a laptop with another browser id, the same signed user is the same customer
    laptop = api_client.post(
        SESSIONS,
        {"channel_key": im_a.channel.key, "visitor_id": "laptop-browser-9", "identity": signed_identity(tenant)},
        format="json",
        HTTP_ORIGIN=ORIGIN,
    ).json()
    assert laptop["customer_id"] == phone["customer_id"]
    history = api_client.get(messages_url(conversation["id"]), **visitor_auth(laptop["token"])).json()
    assert [m["body"] for m in history["messages"]] == ["my parcel is late"]


def test_history_pages_by_seq_and_hides_staff_notes_from_visitors(api_client, im_a):
    conv, _customer, token = im_a.conversation()
    for i in range(1, 8):
        message_create(
            conversation_id=conv.pk, sender_kind="agent", body=f"m{i}", visibility="staff" if i == 4 else "all"
        )
    page = api_client.get(messages_url(conv.pk), {"limit": 3}, **visitor_auth(token)).json()
    assert [m["seq"] for m in page["messages"]] == [5, 6, 7] and page["has_more_before"] and page["last_seq"] == 7
    before = api_client.get(messages_url(conv.pk), {"limit": 3, "before_seq": 5}, **visitor_auth(token)).json()
    assert [m["seq"] for m in before["messages"]] == [1, 2, 3]  # 4 is staff-only
    after = api_client.get(messages_url(conv.pk), {"after_seq": 2, "limit": 2}, **visitor_auth(token)).json()
    assert [m["seq"] for m in after["messages"]] == [3, 5] and after["has_more_after"]
    api_client.force_login(im_a.org.agent_sh)
    staff = api_client.get(messages_url(conv.pk), {"after_seq": 2, "limit": 2}).json()
    assert [m["seq"] for m in staff["messages"]] == [3, 4]
    bad = api_client.get(messages_url(conv.pk), {"after_seq": "x"})
    assert bad.status_code == 400


def test_rest_send_is_idempotent_and_visitors_cannot_touch_other_conversations(api_client, im_a, im_b):
    conv, _customer, token = im_a.conversation()
    other, _c, _t = im_a.conversation()
    foreign, _c2, _t2 = im_b.conversation()
    first = api_client.post(
        messages_url(conv.pk), {"body": "hi", "client_msg_id": "c-1"}, format="json", **visitor_auth(token)
    )
    again = api_client.post(
        messages_url(conv.pk), {"body": "hi", "client_msg_id": "c-1"}, format="json", **visitor_auth(token)
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] and again.json()["message"]["id"] == first.json()["message"]["id"]
    for target in (other.pk, foreign.pk):
        assert api_client.get(messages_url(target), **visitor_auth(token)).status_code == 404
        assert (
            api_client.post(messages_url(target), {"body": "x"}, format="json", **visitor_auth(token)).status_code
            == 404
        )
        assert (
            api_client.post(
                f"/api/v1/im/conversations/{target}/read/", {"seq": 0}, format="json", **visitor_auth(token)
            ).status_code
            == 404
        )
    note = api_client.post(
        messages_url(conv.pk), {"body": "x", "visibility": "staff"}, format="json", **visitor_auth(token)
    )
    assert note.status_code == 403
    assert api_client.get(messages_url(conv.pk), HTTP_AUTHORIZATION="Visitor forged").status_code in (401, 403)
    api_client.force_login(im_b.org.admin)  # another tenant's admin sees nothing of tenant A
    assert api_client.get(messages_url(conv.pk)).status_code == 404
    assert Message.objects.filter(conversation__in=[other, foreign]).count() == 0


def test_read_mark_only_moves_forward(api_client, im_a):
    conv, _customer, token = im_a.conversation()
    for i in range(3):
        message_create(conversation_id=conv.pk, sender_kind="agent", body=f"m{i}")
    url = f"/api/v1/im/conversations/{conv.pk}/read/"
    assert api_client.post(url, {"seq": 2}, format="json", **visitor_auth(token)).json() == {"last_read_seq": 2}
    assert api_client.post(url, {"seq": 1}, format="json", **visitor_auth(token)).json() == {"last_read_seq": 2}
    assert api_client.post(url, {"seq": 9}, format="json", **visitor_auth(token)).status_code == 400


def _png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def _upload(name, data, content_type="application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def test_attachments_are_typed_by_content_and_images_reencoded(api_client, im_a, settings):
    conv, _customer, token = im_a.conversation()
    url = f"/api/v1/im/conversations/{conv.pk}/attachments/"
    # an image named .txt is still an image: re-encoded PNG
    ok = api_client.post(url, {"file": _upload("photo.txt", _png())}, format="multipart", **visitor_auth(token))
    assert ok.status_code == 201, ok.content
    assert (ok.json()["mime_type"], ok.json()["width"], ok.json()["height"]) == ("image/png", 40, 30)
    # an executable named .png is refused
    exe = api_client.post(
        url, {"file": _upload("cat.png", b"MZ\x90\x00" + b"\x00" * 200)}, format="multipart", **visitor_auth(token)
    )
    assert (exe.status_code, exe.json()["error"]["code"]) == (415, "attachment_type_not_allowed")
    # a truncated PNG (right magic, broken body) is refused
    broken = api_client.post(url, {"file": _upload("x.png", _png()[:60])}, format="multipart", **visitor_auth(token))
    assert (broken.status_code, broken.json()["error"]["code"]) == (400, "attachment_invalid")
    settings.IM_ATTACHMENT_MAX_BYTES = 1000
    big = api_client.post(
        url, {"file": _upload("big.png", _png((600, 600)))}, format="multipart", **visitor_auth(token)
    )
    assert (big.status_code, big.json()["error"]["code"]) == (413, "attachment_too_large")
    assert Attachment.objects.count() == 1
    sent = api_client.post(
        messages_url(conv.pk),
        {"attachment_id": ok.json()["id"], "client_msg_id": "img"},
        format="json",
        **visitor_auth(token),
    )
    assert sent.status_code == 201
    message = sent.json()["message"]
    assert message["content_type"] == "image" and message["payload"]["attachment"]["id"] == ok.json()["id"]
    assert Conversation.objects.get(pk=conv.pk).last_message_preview == "[图片]"


def test_openapi_schema_documents_the_im_endpoints(api_client, im_a):
    api_client.force_login(im_a.org.admin)
    schema = api_client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/visitor/sessions/",
        "/api/v1/im/conversations/{conversation_id}/messages/",
        "/api/v1/im/conversations/{conversation_id}/read/",
        "/api/v1/im/conversations/{conversation_id}/attachments/",
    ):
        assert path in paths
    assert "visitorToken" in schema.json()["components"]["securitySchemes"]


def test_visitor_sessions_are_rate_limited_per_ip(api_client, im_a, settings):
    settings.PUBLIC_RATE = "3/m"
    codes = [
        api_client.post(SESSIONS, {"channel_key": im_a.channel.key}, format="json", HTTP_ORIGIN=ORIGIN).status_code
        for _ in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
