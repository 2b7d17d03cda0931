"""Channel writes: management, messages arriving from outside platforms, replies going out to them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.channels.models import Channel, ChannelKind, DeliveryStatus, InboundMessage, InboundStatus, OutboundDelivery
from apps.core.errors import ApplicationError
from apps.core.services import audit_record
from apps.customers.models import Customer, CustomerIdentity
from apps.outbound.guard import validate_url

if TYPE_CHECKING:
    from apps.messaging.services import Sent

logger = logging.getLogger(__name__)

# Who may be heard outside: people and the bot. System notices stay in our own UI.
OUTBOUND_SENDER_KINDS = {"agent", "supervisor", "salesperson", "bot"}
OUTBOUND_CONTENT_TYPES = {"text", "image", "file"}
EXTERNAL_KINDS = {ChannelKind.WECHAT, ChannelKind.MINIPROGRAM, ChannelKind.WECOM_KF, ChannelKind.PARTNER}
# Identity kinds of the customer behind each platform's user id (openids are per app).
IDENTITY_KINDS: dict[str, str] = {
    ChannelKind.WECHAT: "wechat",
    ChannelKind.MINIPROGRAM: "miniprogram",
    ChannelKind.WECOM_KF: "wecom_kf",
    ChannelKind.PARTNER: "partner",
    ChannelKind.APP: "app",
}

# --- management -------------------------------------------------------------------------------


def normalize_origin(value: str) -> str:
    value = (value or "").strip().rstrip("/")
    if value == "*":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ApplicationError(
            "invalid_origin", _("“%(origin)s” is not an origin like https://www.example.com.") % {"origin": value}
        )
    return f"{parts.scheme}://{parts.netloc}".lower()


# What each platform needs before a channel can work, and how a missing setting is named.
REQUIRED_SETTINGS: dict[str, tuple[tuple[str, ...], Any]] = {
    ChannelKind.WECHAT: (("app_id", "token"), _("A WeChat channel needs its %(name)s.")),
    ChannelKind.MINIPROGRAM: (("app_id", "app_secret", "token"), _("A mini-program channel needs its %(name)s.")),
    ChannelKind.WECOM_KF: (
        ("corp_id", "secret", "token", "encoding_aes_key", "open_kfid"),
        _("A WeChat Customer Service channel needs its %(name)s."),
    ),
    ChannelKind.PARTNER: (("api_key", "api_secret"), _("A partner channel needs its %(name)s.")),
}


def channel_validate(*, kind: str, config: dict, allowed_origins: list[str]) -> tuple[dict, list[str]]:
    """Clean the kind-specific settings; raises ApplicationError naming the first problem."""
    origins = [normalize_origin(o) for o in allowed_origins if (o or "").strip()]
    config = {k: (v.strip() if isinstance(v, str) else v) for k, v in (config or {}).items()}
    required, missing_message = REQUIRED_SETTINGS.get(kind, ((), ""))
    for name in required:
        if not config.get(name):
            raise ApplicationError("missing_setting", missing_message % {"name": name})
    aes = config.get("encoding_aes_key") or ""
    if kind in (ChannelKind.WECHAT, ChannelKind.MINIPROGRAM, ChannelKind.WECOM_KF) and aes and len(aes) != 43:
        raise ApplicationError("invalid_setting", _("The EncodingAESKey must be 43 characters."))
    # Tenant input our workers call: the partner's webhook, a platform API base (WeChat's proxies).
    for name in ("webhook_url", "api_base_url"):
        if config.get(name) and (name != "webhook_url" or kind == ChannelKind.PARTNER):
            config[name] = validate_url(config[name])
    return config, origins


def _check_branch(actor, branch) -> None:
    """A channel belongs to a branch the actor reaches; only super admins make tenant-wide ones."""
    if actor is not None and branch is not None and not actor.can_reach_branch(branch):
        raise ApplicationError("not_found", _("Not found."), status=404)
    if actor is not None and branch is None and not (actor.is_super_admin or actor.is_platform_operator):
        raise ApplicationError("branch_required", _("Choose the branch this channel belongs to."))


def channel_create(
    *,
    tenant,
    actor,
    name: str,
    kind: str,
    branch=None,
    allowed_origins: list[str] | None = None,
    greeting: str = "",
    bot_enabled: bool = False,
    config: dict | None = None,
    is_enabled: bool = True,
) -> Channel:
    _check_branch(actor, branch)
    config, origins = channel_validate(kind=kind, config=config or {}, allowed_origins=allowed_origins or [])
    with transaction.atomic():
        channel = Channel.objects.create(
            tenant=tenant,
            name=name,
            kind=kind,
            branch=branch,
            allowed_origins=origins,
            greeting=greeting,
            bot_enabled=bot_enabled,
            config=config,
            is_enabled=is_enabled,
        )
        audit_record(actor=actor, action="channel.create", obj=channel, tenant=tenant)
    return channel


def channel_update(
    *,
    channel: Channel,
    actor,
    name: str,
    branch,
    allowed_origins: list[str],
    greeting: str,
    bot_enabled: bool,
    config: dict,
    is_enabled: bool,
) -> Channel:
    """Change a channel's settings (its kind is fixed once created); the audit names the changed
    fields, never a credential's value."""
    _check_branch(actor, branch)
    config, origins = channel_validate(kind=channel.kind, config=config, allowed_origins=allowed_origins)
    values = {
        "name": name,
        "branch": branch,
        "allowed_origins": origins,
        "greeting": greeting,
        "bot_enabled": bot_enabled,
        "config": config,
        "is_enabled": is_enabled,
    }
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        changed = [field for field, value in values.items() if getattr(channel, field) != value]
        if changed:
            for field in changed:
                setattr(channel, field, values[field])
            channel.save(update_fields=changed)
            audit_record(actor=actor, action="channel.update", obj=channel, changes={"fields": changed})
    return channel


# Which settings each kind uses; the secrets are never shown back (an empty field keeps them).
KIND_CONFIG_KEYS: dict[str, list[str]] = {
    ChannelKind.WECHAT: ["app_id", "app_secret", "token", "encoding_aes_key", "original_id", "api_base_url"],
    ChannelKind.MINIPROGRAM: ["app_id", "app_secret", "token", "encoding_aes_key", "original_id", "api_base_url"],
    ChannelKind.WECOM_KF: ["corp_id", "secret", "token", "encoding_aes_key", "open_kfid", "api_base_url"],
    ChannelKind.PARTNER: ["api_key", "api_secret", "webhook_url"],
}
SECRET_CONFIG_KEYS = {"app_secret", "api_secret", "secret", "token", "encoding_aes_key"}
CREDENTIAL_KEYS = list(dict.fromkeys(key for keys in KIND_CONFIG_KEYS.values() for key in keys))


def channel_config_build(
    *,
    kind: str,
    stored: dict,
    credentials: dict[str, str],
    prechat_fields: list[str],
    offline_message: str,
    rating_tags: str,
    theme_color: str,
    visitor_tracking: str,
    cards: list[dict],
) -> dict:
    """A channel's config from the back office's fields over what is stored: another kind's
    credentials are dropped, an empty secret keeps the stored one, empty settings are not stored
    (the defaults apply), "on" visitor tracking is the default and only web channels track."""
    from apps.channels.widget import VisitorTracking

    config = dict(stored or {})
    settings_: dict[str, object] = {}
    value: object
    for key in CREDENTIAL_KEYS:
        if key not in KIND_CONFIG_KEYS.get(kind, ()):
            config.pop(key, None)
            continue
        value = (credentials.get(key) or "").strip()
        if key in SECRET_CONFIG_KEYS and not value:
            continue
        settings_[key] = value
    tracking = visitor_tracking if kind == ChannelKind.WEB and visitor_tracking != VisitorTracking.ON else ""
    settings_ |= {
        "prechat_fields": list(prechat_fields or []),
        "offline_message": (offline_message or "").strip(),
        "rating_tags": [t.strip()[:30] for t in (rating_tags or "").replace("，", ",").split(",") if t.strip()][:10],
        "theme_color": theme_color or "",
        "visitor_tracking": tracking or "",
        "cards": cards,
    }
    for key, value in settings_.items():
        if value:
            config[key] = value
        else:
            config.pop(key, None)
    return config


def channel_card_thumb_store(*, upload) -> str:
    """Store a mini-program card cover privately (only ever uploaded to WeChat, never served)."""
    import os

    from django.core.files.storage import default_storage

    from apps.core.files import private_name

    if upload.size > 2 * 1024 * 1024:
        raise ApplicationError("invalid_setting", _("The cover image may be at most 2 MB."))
    return default_storage.save(private_name("channel-assets", os.path.splitext(upload.name)[1]), upload)


def channel_set_enabled(*, channel: Channel, enabled: bool, actor) -> Channel:
    with transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(is_enabled=enabled)
        channel.is_enabled = enabled
        audit_record(actor=actor, action="channel.enable" if enabled else "channel.disable", obj=channel)
    return channel


def channel_cards(channel: Channel) -> list[dict]:
    """A mini-program channel's card presets: [{"title", "pagepath"}], as agents pick them."""
    cards = (channel.config or {}).get("cards") if channel.kind == ChannelKind.MINIPROGRAM else None
    return [c for c in cards or [] if isinstance(c, dict) and c.get("title") and c.get("pagepath")]


def parse_cards(text: str) -> list[dict]:
    """Card presets from the back office: one per line, "title | page path"."""
    cards = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        title, sep, pagepath = line.replace("｜", "|").partition("|")
        title, pagepath = title.strip(), pagepath.strip()
        if not sep or not title or not pagepath:
            raise ApplicationError(
                "invalid_setting", _("Write each card as “title | page path”, e.g. 查物流 | pages/track/index?no=")
            )
        if len(title) > 64 or len(pagepath) > 256:
            raise ApplicationError("invalid_setting", _("A card title is at most 64 characters, its page path 256."))
        cards.append({"title": title, "pagepath": pagepath})
    if len(cards) > 20:
        raise ApplicationError("invalid_setting", _("At most 20 cards."))
    return cards


def miniprogram_card_send(*, actor, conversation_id: int, card_index: int, client_msg_id: str | None = None) -> Sent:
    """An agent sends one of the channel's mini-program cards (小程序卡片) to the customer."""
    from apps.conversations import policy
    from apps.messaging.selectors import conversation_get_for_actor
    from apps.messaging.services import SendRequest, message_send, staff_sender_kind

    conversation = conversation_get_for_actor(actor=actor, conversation_id=conversation_id, level=policy.ACT)
    channel = Channel.objects.get(pk=conversation.channel_id)
    if channel.kind != ChannelKind.MINIPROGRAM:
        raise ApplicationError("not_supported", _("Mini-program cards can only be sent in mini-program conversations."))
    cards = channel_cards(channel)
    if not 0 <= card_index < len(cards):
        raise ApplicationError("invalid_card", _("Unknown card."))
    if not channel.cfg("card_thumb"):
        raise ApplicationError("card_thumb_missing", _("Upload the card cover image in the channel settings first."))
    card = cards[card_index]
    return message_send(
        request=SendRequest(
            conversation_id=conversation.pk,
            sender_kind=staff_sender_kind(actor),
            sender_user=actor,
            body=card["title"],
            payload={"miniprogrampage": {"title": card["title"], "pagepath": card["pagepath"]}},
            client_msg_id=client_msg_id or None,
        )
    )


def wecom_accounts(*, channel: Channel) -> list[dict]:
    """The WeChat Customer Service accounts the channel's Secret may manage: [{"open_kfid", "name"}]."""
    from apps.channels import wecom

    try:
        result = wecom.client_for(channel).kf.account_list()
    except Exception as exc:  # noqa: BLE001 - shown to the admin as a message
        code = getattr(exc, "errcode", None)
        raise ApplicationError(
            "wecom_unreachable",
            _("WeCom did not answer (%(error)s). Check the CorpID and Secret.") % {"error": code or type(exc).__name__},
        )
    return [
        {"open_kfid": str(a.get("open_kfid") or ""), "name": str(a.get("name") or "")}
        for a in result.get("account_list") or []
        if isinstance(a, dict) and a.get("open_kfid")
    ]


# --- customers from outside platforms -----------------------------------------------------------


def customer_for_identity(*, tenant_id: int, kind: str, value: str, display_name: str = "") -> Customer:
    """The customer behind an external identity (openid, partner user id), created on first contact."""
    identity = (
        CustomerIdentity.objects.select_related("customer").filter(tenant_id=tenant_id, kind=kind, value=value).first()
    )
    if identity is not None:
        return identity.customer
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                tenant_id=tenant_id, display_name=display_name[:100], last_seen_at=timezone.now()
            )
            CustomerIdentity.objects.create(tenant_id=tenant_id, customer=customer, kind=kind, value=value)
            return customer
    except IntegrityError:
        # Two first messages of one user raced: the other one created the identity.
        return (
            CustomerIdentity.objects.select_related("customer")
            .get(tenant_id=tenant_id, kind=kind, value=value)
            .customer
        )


def customer_update_prechat(
    *, tenant_id: int, customer_id: int, name: str = "", phone: str = "", email: str = "", subject: str = ""
) -> Customer:
    """The widget's pre-chat form: what the visitor tells us before the chat starts."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    updates: dict = {}
    if name.strip():
        updates["display_name"] = name.strip()[:100]
    if phone.strip():
        phone = phone.strip()
        if len(phone) > 30 or not all(c.isdigit() or c in "+-() " for c in phone):
            raise ApplicationError("invalid_phone", _("Please enter a valid phone number."))
        updates["phone"] = phone
    if email.strip():
        try:
            validate_email(email.strip())
        except ValidationError:
            raise ApplicationError("invalid_email", _("Please enter a valid email address."))
        updates["email"] = email.strip()
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer_id, tenant_id=tenant_id)
        for field, value in updates.items():
            setattr(customer, field, value)
        if subject.strip():
            customer.attributes = {**customer.attributes, "prechat_subject": subject.strip()[:200]}
            updates["attributes"] = customer.attributes
        if updates:
            customer.save(update_fields=list(updates))
    return customer


# --- inbound ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    inbound: InboundMessage
    created: bool  # False: a redelivery, the stored row


def inbound_record(
    *, channel: Channel, external_id: str, sender_id: str, kind: str, payload: dict, enqueue: bool = True
) -> Recorded:
    """Store a delivery once; a redelivery gets the stored row back.

    Processing happens in a Celery task enqueued after commit, so the platform gets its
    answer at once (WeChat gives us 5 seconds).
    """
    from apps.channels import tasks

    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                tenant_id=channel.tenant_id,
                channel=channel,
                external_id=external_id[:128],
                sender_id=sender_id[:191],
                kind=kind[:40],
                payload=payload,
            )
            if enqueue:
                transaction.on_commit(lambda: tasks.process_inbound.delay(inbound.pk))
    except IntegrityError:
        return Recorded(InboundMessage.objects.get(channel=channel, external_id=external_id[:128]), created=False)
    return Recorded(inbound, created=True)


def _identity_kind(channel: Channel) -> str:
    return IDENTITY_KINDS.get(channel.kind, "external")


def _wechat_content(inbound: InboundMessage) -> tuple[str, str, dict] | None:
    """(content_type, body, payload) of the conversation message for a WeChat delivery, or None."""
    p = inbound.payload
    kind = inbound.kind
    if kind == "text":
        return "text", p.get("content", ""), {"source": "wechat"}
    if kind == "image":
        return "image", "", {"source": "wechat", "url": p.get("pic_url", ""), "media_id": p.get("media_id", "")}
    if kind == "voice":
        body = p.get("recognition") or ""
        return (
            "file",
            body,
            {
                "source": "wechat",
                "kind": "voice",
                "media_id": p.get("media_id", ""),
                "format": p.get("format", ""),
                "name": gettext("Voice message"),
            },
        )
    if kind in ("video", "shortvideo", "file"):
        return (
            "file",
            p.get("title", ""),
            {
                "source": "wechat",
                "kind": kind,
                "media_id": p.get("media_id", ""),
                "name": p.get("title") or gettext("Video"),
            },
        )
    if kind == "location":
        return "text", gettext("[Location] %(label)s") % {"label": p.get("label", "")}, {"source": "wechat", **p}
    if kind == "link":
        return "text", f"{p.get('title', '')} {p.get('url', '')}".strip(), {"source": "wechat", **p}
    if kind == "event:click":
        return "event", gettext("Clicked menu: %(key)s") % {"key": p.get("key", "")}, {"source": "wechat", **p}
    return None


def _partner_content(inbound: InboundMessage) -> tuple[str, str, dict] | None:
    p = inbound.payload
    if inbound.kind == "text":
        return "text", p.get("text", ""), {"source": "partner"}
    if inbound.kind == "image":
        return "image", "", {"source": "partner", "url": p.get("image_url", "")}
    return None


# WeChat keeps temporary media for 3 days: images and files are copied into our attachments when
# the message arrives, so agents see them later too. Voice is AMR (no browser plays it; WeChat's
# recognised text is kept as the body); video answers with a download URL, which is kept.
WECHAT_MEDIA_KINDS = {"image", "video", "shortvideo", "file"}


def _media_request(inbound: InboundMessage):
    """(media_id, download callable) for a delivery that carries platform media, else None."""
    channel = inbound.channel
    if channel.kind in (ChannelKind.WECHAT, ChannelKind.MINIPROGRAM):
        media_id = inbound.payload.get("media_id")
        kinds = WECHAT_MEDIA_KINDS if channel.kind == ChannelKind.WECHAT else {"image"}
        if inbound.kind not in kinds or not media_id:
            return None
        from apps.channels.wechat import client_for

        return media_id, lambda: client_for(channel).media.download(media_id)
    if channel.kind == ChannelKind.WECOM_KF:
        from apps.channels import wecom, wecom_services

        body = inbound.payload.get("body") or {}
        media_id = body.get("media_id") if isinstance(body, dict) else None
        if inbound.kind not in wecom_services.MEDIA_KINDS or not media_id:
            return None
        return media_id, lambda: wecom.client_for(channel).kf.media_download(media_id)
    return None


def _wechat_media_fetch(inbound: InboundMessage) -> dict | None:
    """Download the media of a WeChat-family delivery (outside any transaction: a network call).
    Returns {"data": bytes, "name": str} or {"video_url": str} or {"error": str}; None when the
    delivery carries no media to fetch."""
    request = _media_request(inbound)
    if request is None:
        return None
    media_id, download = request
    from wechatpy.exceptions import WeChatException

    try:
        result = download()
    except WeChatException as exc:
        logger.warning("wechat media %s of inbound %s: %s", media_id, inbound.pk, exc)
        return {"error": f"wechat_{getattr(exc, 'errcode', 'error')}"}
    except Exception as exc:  # noqa: BLE001 - network errors of any kind: keep the remote reference
        logger.warning("wechat media %s of inbound %s unreachable: %s", media_id, inbound.pk, exc)
        return {"error": "wechat_unreachable"}
    if isinstance(result, dict):
        url = result.get("video_url") or result.get("down_url") or ""
        return {"video_url": url} if url else {"error": "wechat_no_media"}
    disposition = result.headers.get("Content-Disposition", "")
    name = disposition.split("filename=")[-1].strip('"; ') if "filename=" in disposition else ""
    return {"data": result.content, "name": name or f"{inbound.kind}-{str(media_id)[:16]}"}


def _with_media(*, conversation, media: dict, content_type: str, payload: dict) -> tuple[str, dict]:
    """The message's content type and payload once the fetched media is stored (or why not)."""
    from django.core.files.base import ContentFile

    from apps.messaging.attachments import attachment_create, attachment_message_content

    if "video_url" in media:
        return content_type, {**payload, "url": media["video_url"]}
    if "error" in media:
        return content_type, {**payload, "media_error": media["error"]}
    try:
        attachment = attachment_create(conversation=conversation, upload=ContentFile(media["data"], name=media["name"]))
    except ApplicationError as exc:  # wrong type, too large, damaged: the message still arrives
        return content_type, {**payload, "media_error": exc.code}
    content_type, stored = attachment_message_content(attachment)
    return content_type, {**payload, **stored}


INBOUND_STALE_AFTER = timedelta(minutes=2)


def inbound_sweep(*, limit: int = 500) -> int:
    """Process deliveries left pending for longer than a task normally takes."""
    from apps.channels import tasks

    stale = timezone.now() - INBOUND_STALE_AFTER
    ids = list(
        InboundMessage.objects.filter(status=InboundStatus.PENDING, created_at__lt=stale)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for inbound_id in ids:
        tasks.process_inbound.delay(inbound_id)
    return len(ids)


DEFAULT_NAMES: dict[str, object] = {
    ChannelKind.WECHAT: _("WeChat user %(tail)s"),
    ChannelKind.MINIPROGRAM: _("Mini-program user %(tail)s"),
    ChannelKind.WECOM_KF: _("WeChat user %(tail)s"),
}


def _content(inbound: InboundMessage, conversation_for):
    """The conversation message a delivery becomes (a wecom_services.Content), or None.
    `conversation_for()` opens (or finds) the conversation when the content needs it."""
    from apps.channels import miniprogram, wecom_services

    kind = inbound.channel.kind
    if kind == ChannelKind.WECOM_KF:
        return wecom_services.inbound_content(inbound, conversation_for())
    builders: dict[str, Callable] = {
        ChannelKind.WECHAT: _wechat_content,
        ChannelKind.MINIPROGRAM: miniprogram.inbound_content,
    }
    builder = builders.get(kind, _partner_content)
    content = builder(inbound)
    return None if content is None else wecom_services.Content(*content)


def _inbound_event(inbound: InboundMessage, customer: Customer) -> str | None:
    """Platform events that write no conversation message: the status to record, or None when
    the delivery is an ordinary message."""
    if inbound.kind in ("event:subscribe", "event:unsubscribe"):
        subscribed = inbound.kind == "event:subscribe"
        Customer.objects.filter(pk=customer.pk).update(
            attributes={**customer.attributes, "wechat_subscribed": subscribed}
        )
        return InboundStatus.DONE
    if inbound.channel.kind == ChannelKind.WECOM_KF and inbound.kind.startswith("event:"):
        from apps.channels import wecom_services

        return wecom_services.inbound_event(inbound, customer)
    if inbound.channel.kind == ChannelKind.MINIPROGRAM and inbound.kind == "event:user_enter_tempsession":
        session_from = inbound.payload.get("session_from") or ""
        if session_from:
            Customer.objects.filter(pk=customer.pk).update(
                attributes={**customer.attributes, "miniprogram_session_from": session_from}
            )
        return InboundStatus.DONE
    return None


@dataclass(frozen=True)
class Processed:
    inbound: InboundMessage
    processed_now: bool = False  # this call processed it (else it was done before)
    conversation_created: bool = False  # ... and opened the conversation for it


def inbound_process(*, inbound_id: int) -> Processed:
    """Turn a stored delivery into a conversation message. Safe to run any number of times."""
    from apps.messaging.services import message_create
    from apps.routing.intake import conversation_intake_result

    # Media is fetched before the row lock is taken: no network call inside the transaction.
    pending = (
        InboundMessage.objects.select_related("channel").filter(pk=inbound_id, status=InboundStatus.PENDING).first()
    )
    media = _wechat_media_fetch(pending) if pending is not None else None
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        inbound = InboundMessage.objects.select_for_update().select_related("channel").get(pk=inbound_id)
        if inbound.status != InboundStatus.PENDING:
            return Processed(inbound)
        channel = inbound.channel
        name = inbound.payload.get("user_name") or ""
        if not name and channel.kind in DEFAULT_NAMES:
            name = str(DEFAULT_NAMES[channel.kind]) % {"tail": inbound.sender_id[-4:]}
        customer = customer_for_identity(
            tenant_id=channel.tenant_id, kind=_identity_kind(channel), value=inbound.sender_id, display_name=name
        )
        inbound.processed_at = timezone.now()
        event_status = _inbound_event(inbound, customer)
        if event_status is not None:
            inbound.status = event_status
            inbound.save(update_fields=["status", "processed_at"])
            return Processed(inbound, processed_now=True)
        opened: list = []

        def conversation_for():
            if not opened:
                opened.append(conversation_intake_result(channel=channel, customer=customer))
            return opened[0].conversation

        try:
            content = _content(inbound, conversation_for)
            if content is None:
                inbound.status = InboundStatus.IGNORED
                inbound.save(update_fields=["status", "processed_at"])
                return Processed(inbound, processed_now=True)
            conversation = conversation_for()
            content_type, payload = content.content_type, content.payload
            if media is not None:
                content_type, payload = _with_media(
                    conversation=conversation, media=media, content_type=content_type, payload=payload
                )
            message = message_create(
                conversation_id=conversation.pk,
                sender_kind=content.sender_kind,
                body=content.body,
                content_type=content_type,
                payload=payload,
                visibility=content.visibility,
                client_msg_id=f"in:{inbound.pk}",
            )
        except ApplicationError as exc:
            inbound.status = InboundStatus.IGNORED
            inbound.error = f"{exc.code}: {exc.message}"[:200]
            inbound.save(update_fields=["status", "error", "processed_at"])
            return Processed(inbound, processed_now=True)
        if content.sender_kind == "visitor":
            Customer.objects.filter(pk=customer.pk).update(last_seen_at=timezone.now())
        inbound.status = InboundStatus.DONE
        inbound.conversation = conversation
        inbound.message = message
        inbound.save(update_fields=["status", "conversation", "message", "processed_at"])
        return Processed(inbound, processed_now=True, conversation_created=opened[0].created)


# --- outbound --------------------------------------------------------------------------------

_kind_by_channel: dict[int, str] = {}


def _channel_kind(channel_id: int) -> str:
    # A channel's kind never changes after creation (read-only in the back office), so a
    # process-local memo keeps the message hot path free of an extra query.
    kind = _kind_by_channel.get(channel_id)
    if kind is None:
        kind = Channel.objects.filter(pk=channel_id).values_list("kind", flat=True).first() or ""
        _kind_by_channel[channel_id] = kind
    return kind


def forget_channel_kind(channel_id: int) -> None:
    _kind_by_channel.pop(channel_id, None)


def outbound_enqueue_for_message(*, conversation, message) -> OutboundDelivery | None:
    """messaging hook: an agent's (or the bot's) message in a WeChat/partner conversation goes out."""
    if message.visibility != "all" or message.sender_kind not in OUTBOUND_SENDER_KINDS:
        return None
    if message.content_type not in OUTBOUND_CONTENT_TYPES:
        return None
    if _channel_kind(conversation.channel_id) not in EXTERNAL_KINDS:
        return None
    from apps.channels import tasks

    delivery = OutboundDelivery.objects.create(
        tenant_id=conversation.tenant_id, channel_id=conversation.channel_id, message=message
    )
    transaction.on_commit(lambda: tasks.deliver_outbound.delay(delivery.pk))
    return delivery


def platform_session_end_enqueue(*, conversation) -> None:
    """conversations hook: a closed WeChat Customer Service conversation ends its WeCom session."""
    if _channel_kind(conversation.channel_id) != ChannelKind.WECOM_KF:
        return
    from apps.channels import tasks

    transaction.on_commit(lambda: tasks.wecom_session_end.delay(conversation.pk))


class RetryableDeliveryError(Exception):
    pass


def staff_notice(*, conversation_id: int, body: str, code: str) -> None:
    """A system line only staff see (why a reply did not go out, what the platform did)."""
    from apps.messaging.services import message_create

    message_create(
        conversation_id=conversation_id,
        sender_kind="system",
        content_type="system",
        body=body,
        payload={"code": code},
        visibility="staff",
        allow_closed=True,
    )


def reply_limit_notice(*, conversation_id: int, code: str) -> None:
    """Tell the agent the platform's reply window is closed ("reply_window_closed") or its
    per-message quota used up ("reply_quota_used")."""
    if code == "reply_quota_used":
        body = gettext(
            "Not delivered: WeChat accepts at most 5 replies after each customer message. "
            "The customer has to write again first."
        )
    else:
        code = "wechat_window_closed"
        body = gettext(
            "Not delivered: WeChat only allows replies within 48 hours of the customer's last "
            "message. The customer has to write again first."
        )
    staff_notice(conversation_id=conversation_id, code=code, body=body)


def attachment_of(message):
    """The stored attachment an image/file message refers to, or None."""
    from apps.messaging.models import Attachment

    attachment_id = ((message.payload or {}).get("attachment") or {}).get("id")
    if not attachment_id:
        return None
    return Attachment.objects.filter(pk=attachment_id, tenant_id=message.tenant_id).first()


def _absolute(url: str) -> str:
    """Attachment URLs are relative to this server; outside platforms need the public base."""
    if url.startswith("/"):
        return getattr(settings, "PUBLIC_BASE_URL", "").rstrip("/") + url
    return url


def media_url(message) -> str:
    """The link an outside platform (partner server, WeChat user) gets for a message's file: our
    attachments as absolute signed links that expire (OUTSIDE_MEDIA_URL_TTL), media that stayed
    on the platform (a WeChat video) as its own URL."""
    from apps.messaging.attachments import attachment_url

    attachment = message.payload.get("attachment") or {}
    if isinstance(attachment, dict) and isinstance(attachment.get("id"), int):
        ttl = int(getattr(settings, "OUTSIDE_MEDIA_URL_TTL", 7 * 24 * 3600))
        return attachment_url(attachment["id"], ttl=ttl, absolute=True)
    return _absolute(message.payload.get("url", "") or "")


# WeChat's answers when the reply window is closed (45015) or its quota used (45047).
WECHAT_WINDOW_ERRORS = {45015: "reply_window_closed", 45047: "reply_quota_used"}


def _card_thumb_media_id(client, channel: Channel) -> str:
    """The channel's mini-program card cover uploaded as temporary media (kept 3 days by WeChat:
    cached for 2 and a half)."""
    from django.core.files.storage import default_storage

    path = channel.cfg("card_thumb")
    key = f"kf:card-thumb:{channel.pk}:{path}"
    media_id = cache.get(key)
    if media_id:
        return media_id
    with default_storage.open(path, "rb") as fh:
        media = client.media.upload("image", (path.rsplit("/", 1)[-1], fh))
    cache.set(key, media["media_id"], timeout=int(2.5 * 24 * 3600))
    return media["media_id"]


def _deliver_wechat(delivery: OutboundDelivery) -> str:
    """Official accounts and mini-programs: the customer-service message API through wechatpy.
    Returns the final status."""
    from wechatpy.exceptions import WeChatClientException

    from apps.channels import wechat
    from apps.customers.models import CustomerIdentity

    message = delivery.message
    conversation = message.conversation
    channel = delivery.channel
    openid = (
        CustomerIdentity.objects.filter(customer_id=conversation.customer_id, kind=_identity_kind(channel))
        .values_list("value", flat=True)
        .first()
    )
    if not openid:
        delivery.last_error = "customer has no openid"
        return DeliveryStatus.FAILED
    client = wechat.client_for(channel)
    try:
        attachment = attachment_of(message)
        card = (message.payload or {}).get("miniprogrampage")
        if message.content_type == "image" and attachment is not None:
            with attachment.file.open("rb") as fh:
                media = client.media.upload("image", (attachment.original_name or "image.jpg", fh))
            client.message.send_image(openid, media["media_id"])
        elif isinstance(card, dict) and channel.kind == ChannelKind.MINIPROGRAM and channel.cfg("card_thumb"):
            client.message.send_mini_program_page(
                openid,
                {
                    "title": str(card.get("title") or message.body)[:64],
                    "pagepath": str(card.get("pagepath") or ""),
                    "thumb_media_id": _card_thumb_media_id(client, channel),
                },
            )
        else:
            text = message.body
            if message.content_type != "text":
                text = (text + " " + media_url(message)).strip() or gettext("[Attachment]")
            client.message.send_text(openid, text)
    except WeChatClientException as exc:
        if exc.errcode in WECHAT_WINDOW_ERRORS:  # WeChat's own view of the window and quota
            reply_limit_notice(conversation_id=conversation.pk, code=WECHAT_WINDOW_ERRORS[exc.errcode])
            delivery.last_error = f"{exc.errcode} {WECHAT_WINDOW_ERRORS[exc.errcode]}"
            return DeliveryStatus.SKIPPED
        raise RetryableDeliveryError(f"wechat error {exc.errcode}: {exc.errmsg}")
    except Exception as exc:  # noqa: BLE001 - network failures are retried
        raise RetryableDeliveryError(f"wechat request failed: {exc!r}")
    return DeliveryStatus.SUCCEEDED


def _deliver_platform(delivery: OutboundDelivery) -> str:
    """WeChat-family platforms: check the reply window and quota first, then send."""
    from apps.channels import limits, wecom_services

    kind = delivery.channel.kind
    refused = limits.may_send(conversation=delivery.message.conversation, kind=kind, delivery_id=delivery.pk)
    if refused is not None:
        code = "reply_quota_used" if refused == "quota" else "reply_window_closed"
        reply_limit_notice(conversation_id=delivery.message.conversation_id, code=code)
        delivery.last_error = "reply quota used" if refused == "quota" else "48h window closed"
        return DeliveryStatus.SKIPPED
    if kind == ChannelKind.WECOM_KF:
        return wecom_services.deliver(delivery)
    return _deliver_wechat(delivery)


def _deliver_partner(delivery: OutboundDelivery) -> str:
    from apps.channels import partner
    from apps.outbound.webhooks import DeliveryError

    url = delivery.channel.cfg("webhook_url")
    if not url:
        delivery.last_error = gettext("The channel has no webhook URL: nothing was sent.")
        return DeliveryStatus.SKIPPED
    try:
        partner.webhook_post(channel=delivery.channel, message=delivery.message)
    except DeliveryError as exc:
        if exc.retryable:
            raise RetryableDeliveryError(f"webhook {exc}")
        # Refused address, or a 4xx that the same request would get again: no retry.
        delivery.last_error = f"webhook {exc}"[:300]
        staff_notice(
            conversation_id=delivery.message.conversation_id,
            code="delivery_failed",
            body=gettext("Not delivered: the customer's platform refused message #%(seq)s.")
            % {"seq": delivery.message.seq},
        )
        return DeliveryStatus.FAILED
    return DeliveryStatus.SUCCEEDED


def outbound_deliver(*, delivery_id: int) -> OutboundDelivery:
    """Try one delivery. At most one success per message: a finished row is never sent again,
    and a short lease keeps two workers from sending the same row at once."""
    delivery = OutboundDelivery.objects.select_related("channel", "message", "message__conversation").get(
        pk=delivery_id
    )
    if delivery.status != DeliveryStatus.PENDING:
        return delivery
    lease = f"kf:delivery-lease:{delivery.pk}"
    if not cache.add(lease, 1, timeout=60):
        raise RetryableDeliveryError("another worker is delivering this message")
    try:
        with translation.override(settings.LANGUAGE_CODE):
            delivery.attempts += 1
            try:
                if delivery.channel.kind == ChannelKind.PARTNER:
                    status = _deliver_partner(delivery)
                else:
                    status = _deliver_platform(delivery)
            except RetryableDeliveryError as exc:
                delivery.last_error = str(exc)[:300]
                OutboundDelivery.objects.filter(pk=delivery.pk).update(
                    attempts=delivery.attempts, last_error=delivery.last_error
                )
                raise
            delivery.status = status
            if status == DeliveryStatus.SUCCEEDED:
                delivery.delivered_at = timezone.now()
                delivery.last_error = ""
            delivery.save(update_fields=["status", "attempts", "last_error", "delivered_at"])
            return delivery
    finally:
        cache.delete(lease)


def outbound_give_up(*, delivery_id: int) -> OutboundDelivery:
    """Retries exhausted: mark failed and tell the agent the customer did not get the message."""
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():
        delivery = OutboundDelivery.objects.select_for_update().select_related("message").get(pk=delivery_id)
        if delivery.status != DeliveryStatus.PENDING:
            return delivery
        delivery.status = DeliveryStatus.FAILED
        delivery.save(update_fields=["status"])
        staff_notice(
            conversation_id=delivery.message.conversation_id,
            code="delivery_failed",
            body=gettext(
                "Not delivered: the customer's platform did not accept message #%(seq)s after several attempts."
            )
            % {"seq": delivery.message.seq},
        )
    return delivery
