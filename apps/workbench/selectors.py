"""Reads for the workbench, each scoped to the acting agent."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

# --- conversations the agent worked on --------------------------------------------------------


def queue_for_agent(*, actor) -> QuerySet:
    """The waiting conversations this agent may take: dispatch (apps.routing) defines the rule
    (reach up the tree, skill groups, named agents)."""
    from apps.conversations.models import Conversation
    from apps.routing.selectors import queue_for_agent_q

    return Conversation.objects.filter(queue_for_agent_q(actor))


def conversations_of_agent(*, actor) -> QuerySet:
    """Every conversation the agent served: assigned now, joined as a participant, or named as the
    agent of a lifecycle event (so a conversation transferred away still counts)."""
    from apps.conversations import policy
    from apps.conversations.models import Conversation

    return Conversation.objects.filter(tenant_id=actor.tenant_id).filter(policy.served_q(actor))


def conversation_get_for_agent(*, actor, conversation_id: int, allow_queue: bool = False):
    """A conversation the actor may look at, as the access policy says (apps.conversations.policy:
    what they serve, their history, a manager's reach, the queue they may take from). Anything
    else, another tenant's included, is the same 404 as a missing id."""
    from apps.conversations import policy
    from apps.conversations.models import Conversation

    return policy.check(
        actor, conversation_id, policy.VIEW, qs=Conversation.objects.select_related("customer", "channel")
    )


def history_list(
    *,
    actor,
    date_from=None,
    date_to=None,
    channel_id: int | None = None,
    nickname: str = "",
    satisfaction: str = "",
    tag_id: int | None = None,
) -> QuerySet:
    """F15: the agent's past (closed) conversations, newest first, with the filters of the page."""
    from apps.conversations.models import ConversationStatus

    qs = conversations_of_agent(actor=actor).filter(status=ConversationStatus.CLOSED)
    if date_from is not None:
        qs = qs.filter(created_at__gte=date_from)
    if date_to is not None:
        qs = qs.filter(created_at__lt=date_to)
    if channel_id:
        qs = qs.filter(channel_id=channel_id)
    if nickname:
        qs = qs.filter(customer__display_name__icontains=nickname.strip())
    if tag_id:
        qs = qs.filter(tags__id=tag_id)
    if satisfaction == "none":
        qs = qs.filter(rating__isnull=True)
    elif satisfaction in {"1", "2", "3", "4", "5"}:
        qs = qs.filter(rating__score=int(satisfaction))
    elif satisfaction == "good":
        qs = qs.filter(rating__score__gte=4)
    elif satisfaction == "bad":
        qs = qs.filter(rating__score__lte=2)
    return (
        qs.select_related("customer", "channel", "assignee", "rating")
        .prefetch_related("tags")
        .order_by("-created_at", "-id")
        .distinct()
    )


SEARCH_DAYS = 365
SEARCH_LIMIT = 20


def conversation_search(*, actor, query: str, limit: int = SEARCH_LIMIT) -> list:
    """The workbench's search box: conversations this agent served whose customer (nickname,
    phone) or messages match `query`, newest first. Message text goes through the full-text
    backend of the history search (database or Elasticsearch)."""
    import datetime as dt

    from django.utils import timezone

    query = " ".join((query or "").split())[:100]
    if len(query) < 2:
        return []
    from apps.search.selectors import get_backend

    cond = Q(customer__display_name__icontains=query) | Q(customer__phone__contains=query)
    now = timezone.now()
    ids = get_backend().search_conversation_ids(
        tenant_id=actor.tenant_id,
        text=query,
        start=now - dt.timedelta(days=SEARCH_DAYS),
        end=now + dt.timedelta(seconds=1),
        limit=500,
    )
    if ids:
        cond |= Q(pk__in=ids)
    return list(
        conversations_of_agent(actor=actor)
        .filter(cond)
        .select_related("customer", "channel")
        .order_by("-created_at", "-id")
        .distinct()[:limit]
    )


def transcript(*, actor, conversation_id: int, include_staff: bool = True) -> tuple:
    """F16: the whole conversation, messages in seq order."""
    from apps.messaging.models import Message

    conv = conversation_get_for_agent(actor=actor, conversation_id=conversation_id)
    messages = Message.objects.filter(conversation=conv).select_related("sender_user").order_by("seq")
    if not include_staff:
        messages = messages.filter(visibility="all")
    return conv, messages


# --- customer panel (F11) ---------------------------------------------------------------------

# Chinese express waybill numbers: SF + 12 digits, JD/JDV + digits, YT + 13 digits, or a bare
# 10-15 digit number (ZTO, STO, YTO, EMS ...). Phone numbers (11 digits starting with 1) are excluded.
WAYBILL_RE = re.compile(r"(?<![A-Za-z0-9])((?:SF|JDV?|YT|ZT|DPK|EMS)\d{9,15}|\d{10,15})(?![A-Za-z0-9])", re.I)
PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


def _extract(pattern, texts) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        for match in pattern.findall(text or ""):
            seen.setdefault(match.upper(), None)
    return list(seen)


def _fact_label(key: str) -> str:
    from django.utils.translation import gettext as _

    return {
        "phone": _("Phone"),
        "email": _("Email"),
        "waybill": _("Waybill"),
        "address": _("Address"),
        "name": _("Name"),
        "order": _("Order"),
        "phone_in_chat": _("Phone (from chat)"),
        # Set by the channels from the customer's platform (apps.channels).
        "wecom_scene": _("WeChat Customer Service entry"),
        "wecom_scene_param": _("Entry parameter"),
        "miniprogram_session_from": _("Mini-program entry"),
        "wechat_subscribed": _("Follows the official account"),
    }.get(key, key)


def panel_facts(*, customer, phones: list[str], waybills: list[str]) -> list[dict]:
    """What is known about the customer, each value once with its label: the customer record,
    what the bot captured (F55) and what the conversation's text shows. Attribute names the
    tenant chose (from its own system) are their own labels."""
    facts: list[dict] = []
    seen: set[str] = set()

    def add(key: str, value, label: str | None = None) -> None:
        if value in (None, "", [], {}):
            return
        if isinstance(value, list):
            for v in value:
                add(key, v, label)
            return
        text = str(value).strip() if not isinstance(value, dict) else str(value)
        norm = text.upper().replace(" ", "").replace("-", "")
        if not text or norm in seen:
            return
        seen.add(norm)
        facts.append({"key": key, "label": label or _fact_label(key), "value": value})

    captured = customer.captured if isinstance(customer.captured, dict) else {}
    attributes = customer.attributes if isinstance(customer.attributes, dict) else {}
    add("phone", customer.phone)
    add("email", customer.email)
    add("name", captured.get("name"))
    for key in ("phone", "waybill", "address", "order"):
        add(key, captured.get(key))
    add("phone", phones)
    add("waybill", waybills)
    for key, value in captured.items():
        if key not in {"phone", "waybill", "address", "order", "name"}:
            add(str(key), value)
    for key, value in attributes.items():
        add(str(key), value, label=_fact_label(str(key)))
    return facts


def customer_panel(*, actor, conversation_id: int) -> dict:
    """Everything the right column shows about the customer of one conversation."""
    from apps.channels.limits import reply_window
    from apps.channels.services import channel_cards
    from apps.conversations import policy
    from apps.messaging.models import Message

    conv = conversation_get_for_agent(actor=actor, conversation_id=conversation_id, allow_queue=True)
    customer = conv.customer
    texts = list(
        Message.objects.filter(conversation=conv, sender_kind="visitor", content_type="text")
        .order_by("-seq")
        .values_list("body", flat=True)[:500]
    )
    phones = _extract(PHONE_RE, texts)
    waybills = [w for w in _extract(WAYBILL_RE, texts) if w not in phones and not PHONE_RE.fullmatch(w)]
    past = (
        policy.conversations_for(actor, policy.VIEW)
        .filter(customer_id=customer.pk)
        .exclude(pk=conv.pk)
        .select_related("channel", "assignee", "rating")
        .order_by("-created_at")[:10]
    )
    captured = customer.captured if isinstance(customer.captured, dict) else {}
    attributes = customer.attributes if isinstance(customer.attributes, dict) else {}
    return {
        "conversation_id": conv.pk,
        "customer": {
            "id": customer.pk,
            "name": str(customer),
            "phone": customer.phone,
            "email": customer.email,
            "is_vip": customer.is_vip,
            "first_seen": customer.created_at.isoformat() if customer.created_at else None,
            "identities": [{"kind": i.kind, "value": i.value} for i in customer.identities.all()[:10]],
        },
        "channel": {
            "id": conv.channel_id,
            "name": getattr(conv.channel, "name", str(conv.channel)),
            "kind": getattr(conv.channel, "kind", ""),
        },
        "facts": panel_facts(customer=customer, phones=phones, waybills=waybills),
        # WeChat-family platforms: how long and how many more replies the customer's platform takes.
        "reply_window": reply_window(conv),
        "cards": channel_cards(conv.channel),
        "phones_in_conversation": phones,
        "waybills": waybills,
        "captured": {str(k): v for k, v in captured.items()},
        "attributes": {str(k): v for k, v in attributes.items()},
        "past_conversations": [
            {
                "id": p.pk,
                "status": p.status,
                "created_at": p.created_at.isoformat(),
                "channel": getattr(p.channel, "name", ""),
                "agent": p.assignee.name if p.assignee_id else "",
                "preview": p.last_message_preview,
                "score": getattr(getattr(p, "rating", None), "score", None),
            }
            for p in past
        ],
    }
