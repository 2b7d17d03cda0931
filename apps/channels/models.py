from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


def new_channel_key() -> str:
    return secrets.token_urlsafe(16)


class ChannelKind(models.TextChoices):
    WEB = "web", _("Website / H5 widget")
    WECHAT = "wechat", _("WeChat official account")
    APP = "app", _("Mobile app")
    PARTNER = "partner", _("Partner platform API")


class Channel(TenantOwned):
    """An entry point (F44, G4). Branches may run their own channels."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=ChannelKind.choices, default=ChannelKind.WEB)
    branch = models.ForeignKey(
        "accounts.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="channels", verbose_name=_("branch")
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

    def origin_allowed(self, origin: str | None) -> bool:
        if not origin:
            return False
        origin = origin.rstrip("/").lower()
        return any(origin == allowed.rstrip("/").lower() or allowed == "*" for allowed in self.allowed_origins or [])
