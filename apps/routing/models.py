from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import ConversationBoundQuerySet
from apps.core.tenancy import TenantOwned


class Strategy(models.TextChoices):
    LEAST_BUSY = "least_busy", _("Least busy (idle first)")
    ROUND_ROBIN = "round_robin", _("Round robin")


class DispatchSettings(TenantOwned):
    """F45/F57/F58: one row per tenant with the dispatch switches and timeouts."""

    queue_threshold = models.PositiveIntegerField(
        _("idle-first queue threshold"),
        default=20,
        help_text=_("Above this many waiting visitors, conversations go to idle agents first."),
    )
    queue_cap = models.PositiveIntegerField(
        _("queue cap"),
        default=500,
        help_text=_("Beyond this many waiting visitors, new visitors are asked to leave a message."),
    )
    overflow_depth = models.PositiveSmallIntegerField(
        _("overflow depth"),
        default=2,
        validators=[MaxValueValidator(10)],
        help_text=_("How many levels up the organisation tree a conversation may overflow."),
    )
    sticky_enabled = models.BooleanField(_("return visitors to their last agent"), default=True)
    first_response_timeout_seconds = models.PositiveIntegerField(
        _("agent first-response timeout (s)"),
        default=120,
        help_text=_("0 = off. Unanswered conversations are reassigned."),
    )
    queue_wait_timeout_seconds = models.PositiveIntegerField(
        _("queue wait timeout (s)"),
        default=1800,
        help_text=_("0 = off. Visitors waiting longer are asked to leave a message."),
    )
    transfer_timeout_seconds = models.PositiveIntegerField(_("transfer timeout (s)"), default=60)
    visitor_inactivity_warning_seconds = models.PositiveIntegerField(
        _("visitor inactivity warning (s)"), default=600, help_text=_("0 = no automatic close.")
    )
    visitor_inactivity_close_seconds = models.PositiveIntegerField(_("visitor inactivity close (s)"), default=900)
    presence_grace_seconds = models.PositiveIntegerField(_("offline grace period (s)"), default=30)
    # F58 rate-limit switch.
    intake_paused = models.BooleanField(_("stop accepting new conversations"), default=False)
    auto_limit_enabled = models.BooleanField(_("limit automatically by load"), default=False)
    auto_limit_queue_length = models.PositiveIntegerField(_("auto limit: queue length"), default=300)
    auto_limit_messages_per_second = models.PositiveIntegerField(_("auto limit: messages per second"), default=200)
    auto_paused = models.BooleanField(_("paused by load right now"), default=False, editable=False)
    auto_paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_message = models.CharField(_("notice while limited"), max_length=300, blank=True)
    off_hours_message = models.CharField(_("off-hours message"), max_length=300, blank=True)
    queue_full_message = models.CharField(_("queue full message"), max_length=300, blank=True)
    inactivity_warning_message = models.CharField(_("inactivity warning"), max_length=300, blank=True)
    waiting_releases_load = models.BooleanField(
        _("waiting conversations leave the agent's active count"),
        default=False,
        help_text=_("While an agent waits for the customer, the conversation does not count towards their limit."),
    )
    waiting_close_seconds = models.PositiveIntegerField(
        _("close a waiting conversation after (s) of customer silence"), default=86400, help_text=_("0 = never.")
    )
    waiting_close_message = models.CharField(
        _("message when a waiting conversation closes"), max_length=300, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("dispatch settings")
        verbose_name_plural = _("dispatch settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="dispatch_settings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("Dispatch settings"))


class RoutingRule(TenantOwned):
    """F52/F56: which agents get a channel's conversations, and how they are picked."""

    name = models.CharField(_("name"), max_length=100)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    order = models.PositiveSmallIntegerField(
        _("order"), default=100, help_text=_("Rules are tried in ascending order.")
    )
    channel = models.ForeignKey(
        "kf_channels.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
        help_text=_("Empty = every channel."),
    )
    keywords = models.CharField(
        _("keywords"),
        max_length=500,
        blank=True,
        help_text=_("Comma separated; the rule matches when the visitor's text contains one."),
    )
    attribute_conditions = models.JSONField(
        _("visitor attributes"), default=dict, blank=True, help_text=_('e.g. {"vip": true, "province": "Shanghai"}')
    )
    target_branch = models.ForeignKey(
        "accounts.Branch", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    target_skill_group = models.ForeignKey(
        "accounts.SkillGroup",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("skill group"),
    )
    target_agents = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("named agents")
    )
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices, default=Strategy.LEAST_BUSY)
    sticky = models.BooleanField(_("prefer the visitor's last agent"), default=True)
    overflow = models.BooleanField(_("overflow to parent branches"), default=True)
    priority = models.SmallIntegerField(
        _("queue priority"), default=0, help_text=_("Higher waits less: served before lower priorities.")
    )

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    def keyword_list(self) -> list[str]:
        return [k.strip().lower() for k in self.keywords.replace("，", ",").split(",") if k.strip()]


class Weekday(models.IntegerChoices):
    MON = 0, _("Monday")
    TUE = 1, _("Tuesday")
    WED = 2, _("Wednesday")
    THU = 3, _("Thursday")
    FRI = 4, _("Friday")
    SAT = 5, _("Saturday")
    SUN = 6, _("Sunday")


class WorkingHours(TenantOwned):
    """F45: service hours per weekday, tenant-wide (no branch) or for one branch and its subtree."""

    branch = models.ForeignKey(
        "accounts.Branch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
        help_text=_("Empty = the whole company."),
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["branch_id", "weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class Holiday(TenantOwned):
    branch = models.ForeignKey(
        "accounts.Branch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
        help_text=_("Empty = the whole company."),
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class AgentPresence(TenantOwned):
    """Dispatch bookkeeping per agent: round-robin position, when they last connected and when
    all their connections went (the live connections themselves are counted in Redis:
    apps.messaging.presence)."""

    agent = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence")
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    last_connected_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)


class LeaveMessage(TenantOwned):
    """留言: what a visitor leaves when nobody can serve them (off hours, queue full, limited).
    Scoped through its conversation (the access policy); one without a conversation by its
    channel's branch."""

    objects: ClassVar = ConversationBoundQuerySet.as_manager()
    orphan_branch_field = "channel__branch"

    channel = models.ForeignKey(
        "kf_channels.Channel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    contact = models.CharField(_("contact"), max_length=100)
    content = models.TextField(_("message"))
    reason = models.CharField(_("why"), max_length=30, blank=True)
    created_at = models.DateTimeField(_("left at"), auto_now_add=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )

    class Meta:
        verbose_name = _("left message")
        verbose_name_plural = _("left messages")
        ordering = ["-id"]
