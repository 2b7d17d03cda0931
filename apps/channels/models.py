from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.origins import normalize_origin, origin_is_ours
from apps.core.tenancy import TenantOwned


def new_channel_key() -> str:
    return secrets.token_urlsafe(16)


class ChannelKind(models.TextChoices):
    WEB = "web", _("Website / H5 widget")
    WECHAT = "wechat", _("WeChat official account")
    WECOM_KF = "wecom_kf", _("WeChat Customer Service (WeCom)")
    MINIPROGRAM = "miniprogram", _("WeChat mini-program")
    APP = "app", _("Mobile app")
    PARTNER = "partner", _("Partner platform API")


class Channel(TenantOwned):
    """An entry point (F44, G4). Branches may run their own channels."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=ChannelKind.choices, default=ChannelKind.WEB)
    branch = models.ForeignKey(
        "accounts.Branch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="channels",
        verbose_name=_("branch"),
    )
    key = models.CharField(_("channel key"), max_length=64, unique=True, default=new_channel_key)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    # Origins allowed to embed the widget / open visitor websockets, e.g. "https://www.example.com".
    allowed_origins = models.JSONField(_("allowed origins"), default=list, blank=True)
    greeting = models.TextField(_("greeting"), blank=True)
    bot_enabled = models.BooleanField(_("bot answers first"), default=False)
    # Kind-specific settings and credentials (WeChat app id/secret/token/AES key, API keys ...).
    config = models.JSONField(_("settings"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return self.name

    def origin_allowed(self, origin: str | None, *, own_origin: str | None = None) -> bool:
        """Exact scheme://host:port match with an allowed origin, or one of ours (the widget frame is
        served by this server: the host page's origin was checked by the browser through the
        frame's CSP frame-ancestors). `own_origin`: the origin the request was sent to."""
        normalized = normalize_origin(origin)
        if normalized is None:
            return False
        if origin_is_ours(normalized, own=own_origin):
            return True
        return any(allowed == "*" or normalize_origin(allowed) == normalized for allowed in self.allowed_origins or [])

    # --- kind-specific settings kept in `config` -------------------------------------------
    def cfg(self, name: str, default: str = "") -> str:
        value = (self.config or {}).get(name, default)
        return value if value is not None else default


class InboundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")


class InboundMessage(TenantOwned):
    """One message delivered to us by an outside platform (WeChat, a partner).

    The unique (channel, external_id) row is what makes redeliveries harmless: WeChat retries
    a message three times with the same MsgId, a partner retries with its own message id.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound_messages")
    external_id = models.CharField(max_length=128)
    sender_id = models.CharField(max_length=191)  # WeChat openid / partner user id
    kind = models.CharField(max_length=40)  # text, image, voice, event:subscribe ...
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=InboundStatus.choices, default=InboundStatus.PENDING)
    error = models.CharField(max_length=200, blank=True)
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.ForeignKey("messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    subtree_field = "channel__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        constraints = [models.UniqueConstraint(fields=["channel", "external_id"], name="inbound_unique_per_channel")]
        # The sweep looks for rows left pending.
        indexes = [models.Index(fields=["status", "created_at"], name="inbound_status_created")]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")


class OutboundDelivery(TenantOwned):
    """One agent message on its way to an outside platform (WeChat customer-service API, partner webhook).

    One row per message (unique), so a redelivered task never sends a message twice once it succeeded.
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("channel"))
    message = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, related_name="outbound_delivery", verbose_name=_("message")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    subtree_field = "channel__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("outbound delivery")
        verbose_name_plural = _("outbound deliveries")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class SyncCursor(TenantOwned):
    """How far we have read a platform that is pulled rather than pushed (WeChat Customer
    Service's kf/sync_msg): one row per channel, persisted so a restart resumes where it stopped.

    Advancing it is a compare-and-swap on `version` in the same transaction that stores the pulled
    messages, so two pulls that overlap can neither move it backwards nor skip a page.
    """

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="sync_cursor")
    cursor = models.CharField(max_length=128, blank=True)
    version = models.PositiveBigIntegerField(default=0)
    messages_taken = models.PositiveBigIntegerField(default=0)
    pulled_at = models.DateTimeField(null=True, blank=True)

    subtree_field = "channel__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")
