"""AI assistance through the tenant's own OpenAI-compatible provider (off by default): the
provider settings, a summary per transfer or close, reply suggestions and the usage counter."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import ConversationBoundQuerySet
from apps.core.tenancy import TenantOwned


class AssistSettings(TenantOwned):
    """One per tenant. Nothing is sent anywhere until an administrator switches it on."""

    is_enabled = models.BooleanField(_("enabled"), default=False)
    api_url = models.URLField(
        _("API address"),
        max_length=300,
        blank=True,
        help_text=_(
            "The base address of an OpenAI-compatible API, e.g. https://api.example.com/v1 "
            "(/chat/completions is added)."
        ),
    )
    model = models.CharField(_("model"), max_length=100, blank=True)
    api_key = models.CharField(_("API key"), max_length=300, blank=True)
    timeout_seconds = models.FloatField(_("timeout (seconds)"), default=15.0)
    summarize_on_transfer = models.BooleanField(_("summary on transfer"), default=True)
    summarize_on_close = models.BooleanField(_("summary on close"), default=True)
    suggestions_enabled = models.BooleanField(_("reply suggestions"), default=True)
    max_messages = models.PositiveSmallIntegerField(
        _("messages sent (at most)"),
        default=40,
        help_text=_("How many of the conversation's latest messages are sent to the provider."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("AI assistance settings")
        verbose_name_plural = _("AI assistance settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="assist_settings_per_tenant")]

    def __str__(self) -> str:
        return str(_("AI assistance settings"))

    @property
    def key_hint(self) -> str:
        """The stored key as shown back: its last four characters only."""
        return f"••••{self.api_key[-4:]}" if self.api_key else ""

    @property
    def usable(self) -> bool:
        return self.is_enabled and bool(self.api_url and self.model)


class Outcome(models.TextChoices):
    PENDING = "pending", _("Working")
    OK = "ok", _("Done")
    UNAVAILABLE = "unavailable", _("Unavailable")


class ConversationSummary(TenantOwned):
    """The summary written when a conversation was transferred or closed: one per lifecycle event
    (the event is the task's idempotency key)."""

    objects: ClassVar = ConversationBoundQuerySet.as_manager()  # visible when the conversation is (policy)

    class Trigger(models.TextChoices):
        TRANSFER = "transfer", _("At transfer")
        CLOSE = "close", _("At close")

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    event = models.OneToOneField("conversations.ConversationEvent", on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(_("when"), max_length=10, choices=Trigger.choices)
    status = models.CharField(_("status"), max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    text = models.TextField(_("summary"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation summary")
        verbose_name_plural = _("conversation summaries")
        indexes = [models.Index(fields=["conversation", "id"], name="assist_summary_conv_idx")]


class ReplySuggestion(TenantOwned):
    """One click on "suggest replies": the suggestions (1-3) once the provider answered."""

    objects: ClassVar = ConversationBoundQuerySet.as_manager()

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    suggestions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class AssistUsage(TenantOwned):
    """Calls and tokens per tenant and day (the tenant's day), for the tenant's administrators."""

    day = models.DateField(_("day"))
    calls = models.PositiveIntegerField(_("calls"), default=0)
    failures = models.PositiveIntegerField(_("failed calls"), default=0)
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)
    total_tokens = models.PositiveBigIntegerField(_("total tokens"), default=0)

    class Meta:
        verbose_name = _("AI usage")
        verbose_name_plural = _("AI usage")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="assist_usage_per_day")]

    def __str__(self) -> str:
        return str(self.day)
