from __future__ import annotations

import secrets
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def _new_secret() -> str:
    return secrets.token_hex(32)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class TenantQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_platform_operator:
            return self
        return self.filter(pk=user.tenant_id)


class Tenant(models.Model):
    """One company on the SaaS. Its company information (F46) is what visitors see."""

    name = models.CharField(_("company name"), max_length=100)
    slug = models.SlugField(_("code"), max_length=50, unique=True)
    logo = models.ImageField(_("logo"), upload_to="tenant-logos/", blank=True)
    welcome_text = models.TextField(_("welcome text"), blank=True)
    service_hours_text = models.CharField(_("service hours text"), max_length=200, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone])
    is_active = models.BooleanField(_("active"), default=True)
    # HMAC key the tenant's own server uses to sign customer identities (visitor widget / app).
    identity_secret = models.CharField(_("identity signing secret"), max_length=128, default=_new_secret)
    # Offline push: the tenant's push gateway, called by a Celery task and signed with this secret.
    push_webhook_url = models.URLField(_("push webhook URL"), blank=True)
    push_webhook_secret = models.CharField(_("push webhook secret"), max_length=128, default=_new_secret)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    def public_info(self) -> dict:
        return {
            "name": self.name,
            "logo": self.logo.url if self.logo else "",
            "welcome_text": self.welcome_text,
            "service_hours_text": self.service_hours_text,
            "timezone": self.timezone,
        }
