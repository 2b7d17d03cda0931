"""Partner platform API (C1): signed inbound messages, signed webhooks with retries and idempotency keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from apps.channels.models import DeliveryStatus, InboundMessage, OutboundDelivery
from apps.channels.partner import sign
from apps.conversations.models import Conversation
from apps.messaging.models import Message
from apps.messaging.services import message_create


def _post(client, channel, payload: dict, *, secret="cn-secret", key="cn-key", timestamp=None, signature=None):
    body = json.dumps(payload, ensure_ascii=False).encode()
    ts = timestamp or str(int(time.time()))
    sig = signature or hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return client.post(
        f"/api/v1/partner/{channel.key}/messages/",
        data=body,
        content_type="application/json",
        HTTP_X_KEFU_KEY=key,
        HTTP_X_KEFU_TIMESTAMP=ts,
        HTTP_X_KEFU_SIGNATURE=sig,
    )


MSG = {
    "message_id": "cn-msg-1",
    "user": {"id": "cainiao-u-88", "name": "张三"},
    "type": "text",
    "text": "包裹显示已签收但我没收到",
}


@pytest.mark.smoke
def test_signed_message_opens_a_conversation_for_the_partner_user(client, partner_channel):
    response = _post(client, partner_channel, MSG)
    assert response.status_code == 201, response.content
    data = response.json()
    conversation = Conversation.objects.get(pk=data["conversation_id"])
    assert conversation.channel_id == partner_channel.pk and conversation.branch_id == partner_channel.branch_id
    assert conversation.customer.display_name == "张三"
    assert conversation.customer.identities.get().value == "cainiao-u-88"
    assert Message.objects.get(pk=data["message_id"]).body == MSG["text"]
    second = _post(client, partner_channel, {**MSG, "message_id": "cn-msg-2", "text": "单号 YT123"})
    assert second.json()["conversation_id"] == conversation.pk and second.json()["seq"] == 2


@pytest.mark.smoke
def test_inbound_is_idempotent_by_partner_message_id(client, partner_channel):
    first = _post(client, partner_channel, MSG)
    again = [_post(client, partner_channel, MSG) for _ in range(3)]
    assert first.status_code == 201
    assert {r.status_code for r in again} == {200}
    assert {r.json()["message_id"] for r in again} == {first.json()["message_id"]}
    assert all(r.json()["duplicate"] for r in again)
    assert Message.objects.count() == 1 and InboundMessage.objects.count() == 1


@pytest.mark.smoke
@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"secret": "wrong-secret"}, "invalid_signature"),
        ({"signature": "deadbeef"}, "invalid_signature"),
        ({"key": "other-key"}, "invalid_api_key"),
        ({"timestamp": str(int(time.time()) - 3600)}, "stale_timestamp"),
        ({"timestamp": "yesterday"}, "invalid_timestamp"),
    ],
)
def test_bad_signatures_are_rejected_without_side_effects(client, partner_channel, kwargs, code):
    response = _post(client, partner_channel, MSG, **kwargs)
    assert response.status_code == 401 and response.json()["error"]["code"] == code
    assert (Conversation.objects.count(), Message.objects.count(), InboundMessage.objects.count()) == (0, 0, 0)


def test_body_changed_after_signing_is_rejected(client, partner_channel):
    ts = str(int(time.time()))
    signed_for = json.dumps(MSG).encode()
    sig = sign(secret="cn-secret", timestamp=ts, body=signed_for)
    tampered = json.dumps({**MSG, "text": "转账到 123"}).encode()
    response = client.post(
        f"/api/v1/partner/{partner_channel.key}/messages/",
        data=tampered,
        content_type="application/json",
        HTTP_X_KEFU_KEY="cn-key",
        HTTP_X_KEFU_TIMESTAMP=ts,
        HTTP_X_KEFU_SIGNATURE=sig,
    )
    assert response.status_code == 401
    assert Message.objects.count() == 0


def test_invalid_body_is_a_clear_400(client, partner_channel):
    response = _post(client, partner_channel, {"message_id": "x", "user": {"id": "u"}, "type": "text", "text": " "})
    assert response.status_code == 400 and "text" in response.json()["error"]["fields"]
    assert Message.objects.count() == 0


def _agent_reply(org, conversation_id, body, capture):
    with capture(execute=True):
        return message_create(conversation_id=conversation_id, sender_kind="agent", sender_user=org.agent_sh, body=body)


def test_agent_reply_is_delivered_by_signed_webhook(
    client, org_a, partner_channel, fake_remote, django_capture_on_commit_callbacks
):
    _base, rec = fake_remote
    conversation_id = _post(client, partner_channel, MSG).json()["conversation_id"]
    reply = _agent_reply(org_a, conversation_id, "已为您登记，请稍候", django_capture_on_commit_callbacks)
    hooks = [r for r in rec.requests if r["path"] == "/kefu-webhook"]
    assert len(hooks) == 1
    hook = hooks[0]
    headers = {k.lower(): v for k, v in hook["headers"].items()}
    expected = hmac.new(
        b"cn-secret", headers["x-kefu-timestamp"].encode() + b"." + hook["raw"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(headers["x-kefu-signature"], f"sha256={expected}")  # docs/webhooks.md
    assert headers["idempotency-key"] == f"kefu-msg-{reply.pk}"
    assert hook["json"]["user_id"] == "cainiao-u-88"
    assert hook["json"]["message"]["text"] == "已为您登记，请稍候"
    assert hook["json"]["message"]["sender_name"] == "agent_sh"


def test_webhook_is_retried_after_a_failure_and_succeeds_once(
    client, org_a, partner_channel, fake_remote, django_capture_on_commit_callbacks
):
    _base, rec = fake_remote
    conversation_id = _post(client, partner_channel, MSG).json()["conversation_id"]
    rec.fail_next = [503]  # the partner is down for the first attempt
    reply = _agent_reply(org_a, conversation_id, "请提供手机号", django_capture_on_commit_callbacks)
    hooks = [r for r in rec.requests if r["path"] == "/kefu-webhook"]
    assert len(hooks) == 2
    keys = {r["headers"]["Idempotency-Key"] for r in hooks}
    assert keys == {f"kefu-msg-{reply.pk}"}  # the same key on the retry
    delivery = OutboundDelivery.objects.get(message=reply)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    # A redelivered task after success sends nothing more: at most one success per message.
    from apps.channels.tasks import deliver_outbound

    deliver_outbound.apply(args=[delivery.pk])
    assert len([r for r in rec.requests if r["path"] == "/kefu-webhook"]) == 2


def test_webhook_gives_up_after_retries_and_tells_the_agent(
    client, org_a, partner_channel, fake_remote, django_capture_on_commit_callbacks
):
    from apps.channels.tasks import MAX_DELIVERY_RETRIES

    _base, rec = fake_remote
    conversation_id = _post(client, partner_channel, MSG).json()["conversation_id"]
    rec.fail_next = [500] * (MAX_DELIVERY_RETRIES + 1)
    reply = _agent_reply(org_a, conversation_id, "在吗", django_capture_on_commit_callbacks)
    assert len([r for r in rec.requests if r["path"] == "/kefu-webhook"]) == MAX_DELIVERY_RETRIES + 1
    delivery = OutboundDelivery.objects.get(message=reply)
    assert delivery.status == DeliveryStatus.FAILED
    notice = Message.objects.filter(conversation_id=conversation_id, sender_kind="system").get()
    assert notice.visibility == "staff" and notice.payload["code"] == "delivery_failed"
