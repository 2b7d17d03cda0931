"""How many replies the customer's platform still accepts, and until when.

WeChat lets a business answer only after the customer wrote: within 48 hours of their last
message, and (mini-programs, WeChat Customer Service) at most 5 messages until they write again.
The same figures decide whether a delivery is attempted and what the agent's workbench shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.channels.models import ChannelKind, DeliveryStatus, OutboundDelivery


@dataclass(frozen=True)
class ReplyRule:
    label: object
    hours: int
    quota: int | None  # messages per customer message; None = no count limit enforced here


# Official rules: offiaccount Customer_Service_Messages, miniprogram customer-message/send,
# WeCom kf/send_msg ("用户发送消息: 5 条, 48 小时").
REPLY_RULES: dict[str, ReplyRule] = {
    ChannelKind.WECHAT: ReplyRule(_("WeChat official account"), 48, None),
    ChannelKind.MINIPROGRAM: ReplyRule(_("WeChat mini-program"), 48, 5),
    ChannelKind.WECOM_KF: ReplyRule(_("WeChat Customer Service"), 48, 5),
}


def replies_sent_since(*, conversation_id: int, since: datetime) -> int:
    """Replies the platform has taken (or is taking) since the customer's last message."""
    return (
        OutboundDelivery.objects.filter(message__conversation_id=conversation_id, created_at__gt=since)
        .exclude(status__in=[DeliveryStatus.SKIPPED, DeliveryStatus.FAILED])
        .count()
    )


def reply_window(conversation, *, kind: str | None = None, now: datetime | None = None) -> dict | None:
    """The reply window of a conversation on a platform that has one, else None."""
    kind = kind or conversation.channel.kind
    rule = REPLY_RULES.get(kind)
    if rule is None:
        return None
    now = now or timezone.now()
    last = conversation.last_visitor_message_at
    expires = last + timedelta(hours=rule.hours) if last else None
    sent = replies_sent_since(conversation_id=conversation.pk, since=last) if last else 0
    remaining = None if rule.quota is None else max(0, rule.quota - sent)
    return {
        "platform": kind,
        "label": str(rule.label),
        "hours": rule.hours,
        "quota": rule.quota,
        "sent": sent,
        "remaining": remaining,
        "last_customer_message_at": last.isoformat() if last else None,
        "expires_at": expires.isoformat() if expires else None,
        "open": bool(expires and now < expires and (remaining is None or remaining > 0)),
    }


def may_send(*, conversation, kind: str, delivery_id: int, now: datetime | None = None) -> str | None:
    """None when the platform will take one more reply, else why not ("window" or "quota")."""
    rule = REPLY_RULES.get(kind)
    if rule is None:
        return None
    now = now or timezone.now()
    last = conversation.last_visitor_message_at
    if last is None or now - last > timedelta(hours=rule.hours):
        return "window"
    if rule.quota is not None:
        sent = (
            OutboundDelivery.objects.filter(
                message__conversation_id=conversation.pk, created_at__gt=last, status=DeliveryStatus.SUCCEEDED
            )
            .exclude(pk=delivery_id)
            .count()
        )
        if sent >= rule.quota:
            return "quota"
    return None
