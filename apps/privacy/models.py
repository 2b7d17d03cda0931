"""Per-tenant retention and the personal-information requests of the PIPL (个人信息保护法).

Retention deletes or anonymises what is older than the tenant's periods; a request lets a
customer see everything held about them (an access export, a file) or have it erased. Reports
keep their counts: rows that figures are computed from stay, their text does not.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.files import private_upload_to
from apps.core.tenancy import TenantOwned


class RetentionMode(models.TextChoices):
    ANONYMISE = "anonymise", _("Anonymise (keep the rows for reports, remove the text)")
    DELETE = "delete", _("Delete")


class RetentionPolicy(TenantOwned):
    """One per tenant. A period of 0 days keeps that kind of data for ever."""

    messages_days = models.PositiveIntegerField(
        _("messages: keep (days)"),
        default=0,
        help_text=_("Messages of conversations closed longer ago than this. 0 = keep for ever."),
    )
    messages_mode = models.CharField(
        _("messages: then"), max_length=10, choices=RetentionMode.choices, default=RetentionMode.ANONYMISE
    )
    attachments_days = models.PositiveIntegerField(
        _("attachments: keep (days)"), default=0, help_text=_("Files sent in conversations. 0 = keep for ever.")
    )
    visitor_trails_days = models.PositiveIntegerField(
        _("visitor trails: keep (days)"),
        default=0,
        help_text=_("Pages visitors viewed, devices and regions. 0 = keep for ever."),
    )
    exports_days = models.PositiveIntegerField(
        _("exports: keep (days)"),
        default=30,
        help_text=_("Export jobs and their files (files themselves expire sooner). 0 = keep for ever."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="retention_policy_per_tenant")]

    def __str__(self) -> str:
        return str(_("Retention policy"))


class ErasedConversation(TenantOwned):
    """A conversation whose content was removed (by retention or an erasure request): the marker
    that makes the retention job idempotent and lets pages say why a transcript is empty."""

    class Reason(models.TextChoices):
        RETENTION = "retention", _("Retention period passed")
        REQUEST = "request", _("Erasure request")

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    messages_deleted = models.BooleanField(default=False)
    erased_at = models.DateTimeField()


class RequestKind(models.TextChoices):
    ACCESS = "access", _("Access (export everything held)")
    ERASURE = "erasure", _("Erasure")


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PersonalDataRequest(TenantOwned):
    """A customer's request under the PIPL (articles 45 and 47), carried out by a Celery task.

    The row holds no personal information of its own (no name, no phone): only the customer's id
    and counts, so it may be kept as the record that the request was honoured."""

    kind = models.CharField(_("kind"), max_length=10, choices=RequestKind.choices)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("requested by")
    )
    status = models.CharField(_("status"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    file = models.FileField(upload_to=private_upload_to, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("download until"), null=True, blank=True)

    class Meta:
        verbose_name = _("personal information request")
        verbose_name_plural = _("personal information requests")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
