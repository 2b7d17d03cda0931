from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


class WebhookDelivery(TenantOwned):
    """One signed POST to a tenant's endpoint, kept until delivered or given up.

    `key` is the idempotency key: enqueueing the same key twice is one delivery, and the receiver
    gets it as Idempotency-Key to drop a repeat after a lost response. Senders with a domain row
    of their own (offline push: PushDelivery; partner channels: OutboundDelivery) post through the
    same signing and retry code without a row here.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=40)
    key = models.CharField(_("idempotency key"), max_length=191, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    body = models.TextField(_("body"))
    # Which secret signs it, looked up when sending (a rotated secret applies to retries too).
    secret_source = models.CharField(max_length=40, default="tenant_push")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="webhook_tenant_status_idx")]
