"""Service levels (SLA): first-response and resolution targets counted in working hours.

A policy applies to conversations by channel, priority and customer tier; the first matching
policy (lowest order) sets a conversation's clock when it reaches people (queued or assigned,
not while the bot serves it). Targets are counted in the working hours and holidays of the
conversation's branch (apps.routing.selectors.working_deadline), so due times are instants.
A breach is one row per conversation and target, recorded when the due time passes unmet.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


class CustomerTier(models.TextChoices):
    ANY = "any", _("Any customer")
    VIP = "vip", _("VIP customers")
    REGULAR = "regular", _("Non-VIP customers")


class SlaPolicy(TenantOwned):
    name = models.CharField(_("name"), max_length=100)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=10, help_text=_("The first matching policy applies."))
    channel = models.ForeignKey(
        "kf_channels.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
        help_text=_("Empty: every channel."),
    )
    min_priority = models.SmallIntegerField(
        _("from priority"), null=True, blank=True, help_text=_("Only conversations of at least this priority.")
    )
    customer_tier = models.CharField(_("customers"), max_length=10, choices=CustomerTier.choices, default="any")
    first_response_seconds = models.PositiveIntegerField(
        _("first response within (s)"), help_text=_("Working time from reaching the queue to the first agent reply.")
    )
    resolution_seconds = models.PositiveIntegerField(
        _("resolved within (s)"),
        null=True,
        blank=True,
        help_text=_("Working time from reaching the queue to closing. Empty: no resolution target."),
    )
    warning_percent = models.PositiveSmallIntegerField(
        _("warn when this much time is left (%)"), default=25, help_text=_("The list turns amber, then red.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class SlaClock(TenantOwned):
    """One conversation's targets as instants (and the instants when they turn amber)."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, primary_key=True, related_name="sla"
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.SET_NULL, null=True, related_name="+")
    branch_id = models.IntegerField(default=0)  # the branch whose calendar counted, at start
    channel_id = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    first_response_warn_at = models.DateTimeField(null=True)
    first_response_due = models.DateTimeField(null=True)
    resolution_warn_at = models.DateTimeField(null=True)
    resolution_due = models.DateTimeField(null=True)
    # Filled by the check job from the conversation: when each target was met (or not).
    first_response_at = models.DateTimeField(null=True)
    resolved_at = models.DateTimeField(null=True)
    first_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    # Waiting for the customer pauses the resolution target: the working time it had left then;
    # resolution_due stays the instant before the pause until the clock resumes.
    resolution_paused_at = models.DateTimeField(null=True)
    resolution_left_s = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["first_response_due"], name="sla_frt_due_idx"),
            models.Index(fields=["resolution_due"], name="sla_res_due_idx"),
            models.Index(fields=["tenant", "started_at"], name="sla_report_idx"),
        ]

    def wire(self) -> dict:
        """What the workbench list shows (conversation_to_dict carries it)."""
        from apps.sla.selectors import clock_to_dict

        return clock_to_dict(self)


class BreachKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class SlaBreach(TenantOwned):
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("target"), max_length=20, choices=BreachKind.choices)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.SET_NULL, null=True, related_name="+")
    due_at = models.DateTimeField(_("due"))
    breached_at = models.DateTimeField(_("recorded at"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    branch = models.ForeignKey("accounts.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        ordering = ["-breached_at"]
        constraints = [models.UniqueConstraint(fields=["conversation", "kind"], name="sla_breach_once")]
