from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


class Customer(TenantOwned):
    """A visitor/customer (访客). One customer may have several identities across channels."""

    display_name = models.CharField(_("nickname"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True, db_index=True)
    email = models.EmailField(_("email"), blank=True)
    is_vip = models.BooleanField(_("VIP"), default=False)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Facts captured from conversations (F55): waybill numbers, address ...
    captured = models.JSONField(_("captured information"), default=dict, blank=True)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    # Set when the customer's personal information was erased on request (apps.privacy): the row
    # stays, without any personal field, so the conversations it anchors still count in reports.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["tenant", "display_name"])]

    def __str__(self) -> str:
        if self.erased_at is not None:
            return str(_("Erased customer #%(id)s") % {"id": self.pk})
        return self.name

    @property
    def name(self) -> str:
        """How people call this customer: nickname, the name they gave, the masked phone, or
        "访客 7KQ2M" (a stable code, never the database id)."""
        captured = self.captured if isinstance(self.captured, dict) else {}
        given = captured.get("name")
        return (
            self.display_name
            or (given if isinstance(given, str) else "")
            or mask_phone(self.phone)
            or visitor_label(self.tenant_id, self.pk)
        )


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678; short or odd numbers keep only their last four digits."""
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 4:
        return f"****{digits[-4:]}"
    return ""


_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud on the phone


def visitor_label(tenant_id, pk) -> str:
    from django.utils.translation import gettext

    if pk is None:
        return gettext("Visitor")
    n = int.from_bytes(hashlib.blake2s(f"{tenant_id}:{pk}".encode(), digest_size=4).digest(), "big")
    code = "".join(_CODE_ALPHABET[(n >> (5 * i)) & 31] for i in range(5))
    return gettext("Visitor %(code)s") % {"code": code}


class IdentityKind(models.TextChoices):
    ANONYMOUS = "anonymous", _("Anonymous browser id")
    EXTERNAL = "external", _("Signed customer id (tenant's own user)")
    WECHAT = "wechat", _("WeChat openid")
    MINIPROGRAM = "miniprogram", _("Mini-program openid")
    WECOM_KF = "wecom_kf", _("WeChat Customer Service external user id")
    APP = "app", _("App user id")
    PARTNER = "partner", _("Partner platform user")
    PHONE = "phone", _("Phone")


class CustomerIdentity(TenantOwned):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=20, choices=IdentityKind.choices)
    value = models.CharField(_("value"), max_length=191)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("customer identity")
        verbose_name_plural = _("customer identities")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "value"], name="identity_unique_per_tenant")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class CustomerMerge(TenantOwned):
    """F39: a manual merge, recorded so it can be split again (which identities and conversations moved)."""

    target = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    source_snapshot = models.JSONField(default=dict)
    identity_ids = models.JSONField(default=list)
    conversation_ids = models.JSONField(default=list)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    split_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reports_customermerge"  # moved from apps.reports with its rows
