"""What the widget reports about a browsing visitor (with their consent): one Visit per browsing
session, one PageView per page. Rows are small (no IP address, the user agent reduced to three
words) and carry `tenant` and `created_at` for the retention jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned

URL_MAX = 500
TITLE_MAX = 200


class Device(models.TextChoices):
    DESKTOP = "desktop", _("Computer")
    MOBILE = "mobile", _("Phone")
    TABLET = "tablet", _("Tablet")
    BOT = "bot", _("Robot")
    OTHER = "other", _("Other")


class Visit(TenantOwned):
    """One browsing session of one browser on a channel's site: from the first page until
    VISIT_TIMEOUT of silence. `visitor_key` is the widget's random id for that browser on that
    site; `customer` is set once the visitor chats (or is identified)."""

    channel = models.ForeignKey("kf_channels.Channel", on_delete=models.CASCADE, related_name="+")
    visitor_key = models.CharField(max_length=64)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="visits"
    )
    number = models.PositiveIntegerField(_("visit number"), default=1)  # the Nth visit of this browser
    landing_url = models.CharField(_("landing page"), max_length=URL_MAX)
    referrer = models.CharField(_("referrer"), max_length=URL_MAX, blank=True)
    current_url = models.CharField(_("current page"), max_length=URL_MAX)
    current_title = models.CharField(_("current page title"), max_length=TITLE_MAX, blank=True)
    pages = models.PositiveIntegerField(_("pages viewed"), default=1)
    device = models.CharField(_("device"), max_length=10, choices=Device.choices, default=Device.OTHER)
    os = models.CharField(_("operating system"), max_length=40, blank=True)
    browser = models.CharField(_("browser"), max_length=40, blank=True)
    language = models.CharField(_("language"), max_length=35, blank=True)
    region = models.CharField(_("region"), max_length=80, blank=True)
    created_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    last_seen_at = models.DateTimeField(_("last seen"), db_index=True)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)

    subtree_field = "channel__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            models.UniqueConstraint(fields=["channel", "visitor_key", "number"], name="visit_number_unique"),
        ]
        indexes = [models.Index(fields=["customer", "-created_at"], name="visit_customer_recent")]

    def __str__(self) -> str:
        return f"{self.visitor_key[:8]}#{self.number}"


class PageView(TenantOwned):
    """One page of a visit. `seconds` (time on the page) is known when the next page or the
    leave beacon arrives."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="page_views")
    url = models.CharField(max_length=URL_MAX)
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("page view")
        verbose_name_plural = _("page views")
        ordering = ["visit_id", "id"]


class InviteTrigger(models.TextChoices):
    PAGE_TIME = "page_time", _("After some time on matching pages")
    VISIT_NUMBER = "visit_number", _("From the visitor's Nth visit")
    REFERRER = "referrer", _("When the visitor came from a matching site")


class InvitationRule(TenantOwned):
    """A company rule that invites browsing visitors to chat by itself."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.ForeignKey(
        "kf_channels.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
        help_text=_("Empty: every website channel of the company."),
    )
    trigger = models.CharField(_("when"), max_length=20, choices=InviteTrigger.choices, default=InviteTrigger.PAGE_TIME)
    url_pattern = models.CharField(
        _("page address pattern"),
        max_length=500,
        blank=True,
        help_text=_("A regular expression searched in the page address, e.g. /price|/track. Empty: any page."),
    )
    seconds = models.PositiveIntegerField(_("seconds on the page"), default=30)
    visit_number = models.PositiveSmallIntegerField(_("from visit number"), default=2)
    referrer_pattern = models.CharField(
        _("referrer pattern"),
        max_length=500,
        blank=True,
        help_text=_("A regular expression searched in the address the visitor came from, e.g. baidu\\.com"),
    )
    message = models.CharField(_("invitation text"), max_length=200)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    subtree_field = "channel__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("invitation rule")
        verbose_name_plural = _("invitation rules")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class InvitationSettings(TenantOwned):
    """How often a visitor may be invited, and when never (the company's time zone)."""

    daily_cap = models.PositiveSmallIntegerField(_("invitations per visitor per day"), default=2)
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation settings")
        verbose_name_plural = _("invitation settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="invitation_settings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("invitation settings"))


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be shown")
    SHOWN = "shown", _("Shown")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")


class Invitation(TenantOwned):
    """One invitation to one browsing visitor, by an agent or by a rule."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="invitations")
    channel = models.ForeignKey("kf_channels.Channel", on_delete=models.CASCADE, related_name="+")
    visitor_key = models.CharField(max_length=64)
    # For the reports: the inviting agent's branch, or the channel's for a rule.
    branch = models.ForeignKey(
        "accounts.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    rule = models.ForeignKey(
        InvitationRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitations"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    message = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    shown_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [models.UniqueConstraint(fields=["visit", "rule"], name="invitation_rule_once_per_visit")]
        indexes = [models.Index(fields=["channel", "visitor_key", "created_at"], name="invitation_visitor_day")]
