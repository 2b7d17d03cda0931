"""Supervisor centre: report rollups, KPI targets, exports, follow-ups, tracking.

Rollup rows are derived data: `apps.reports.rollups` rebuilds any range of them from the raw
rows (ConversationEvent, Message, Rating, AgentStatusLog, SlaClock) and the figures are defined once in
`apps.reports.metrics`. Dimension columns are plain integers (0 = none) so the unique key works
the same on MySQL (where NULLs never collide) and a deleted agent does not cascade into history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.files import private_upload_to
from apps.core.tenancy import TenantOwned


class Grain(models.TextChoices):
    # Hour rows are the full cube (branch x agent x channel). Day rows are two projections of
    # it, so a year's report reads ~365 x (branches x channels) or (branches x agents) rows,
    # bounded by the organisation's size rather than by the number of conversations.
    HOUR = "h", _("Hour")
    DAY = "d", _("Day")  # branch x channel (agent_id = 0)
    DAY_BY_AGENT = "a", _("Day by agent")  # branch x agent (channel_id = 0)


class RollupMetrics(TenantOwned):
    grain = models.CharField(max_length=1, choices=Grain.choices)
    # Start of the hour (UTC) or of the day in the tenant's time zone, stored as an aware datetime.
    bucket = models.DateTimeField()
    branch_id = models.IntegerField(default=0)

    offered = models.PositiveIntegerField(default=0)
    agent_offered = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    agent_accepted = models.PositiveIntegerField(default=0)
    abandoned = models.PositiveIntegerField(default=0)
    wait_sum = models.FloatField(default=0)
    wait_count = models.PositiveIntegerField(default=0)
    frt_sum = models.FloatField(default=0)
    frt_count = models.PositiveIntegerField(default=0)
    aht_sum = models.FloatField(default=0)
    aht_count = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    messages_visitor = models.PositiveIntegerField(default=0)
    messages_agent = models.PositiveIntegerField(default=0)
    ratings = models.PositiveIntegerField(default=0)
    score_1 = models.PositiveIntegerField(default=0)
    score_2 = models.PositiveIntegerField(default=0)
    score_3 = models.PositiveIntegerField(default=0)
    score_4 = models.PositiveIntegerField(default=0)
    score_5 = models.PositiveIntegerField(default=0)
    logged_in_s = models.FloatField(default=0)
    online_s = models.FloatField(default=0)
    busy_s = models.FloatField(default=0)
    away_s = models.FloatField(default=0)
    sla_frt_met = models.PositiveIntegerField(default=0)
    sla_frt_breached = models.PositiveIntegerField(default=0)
    sla_res_met = models.PositiveIntegerField(default=0)
    sla_res_breached = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class ReportRow(RollupMetrics):
    """The cube: one row per (grain, bucket, branch, agent, channel) that had any activity."""

    agent_id = models.IntegerField(default=0)
    channel_id = models.IntegerField(default=0)

    class Meta:
        # Shown in the back office as the entry to the supervisor centre (see admin.py).
        verbose_name = _("supervisor centre")
        verbose_name_plural = _("supervisor centre: reports, live monitor, history")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "grain", "bucket", "branch_id", "agent_id", "channel_id"], name="reportrow_unique"
            )
        ]
        indexes = [models.Index(fields=["tenant", "grain", "bucket"], name="reportrow_range_idx")]


class TagReportRow(RollupMetrics):
    """Conversation-level figures per tag (a conversation with two tags counts under both)."""

    tag_id = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "grain", "bucket", "branch_id", "tag_id"], name="tagreportrow_unique"
            )
        ]
        indexes = [models.Index(fields=["tenant", "grain", "bucket"], name="tagreportrow_range_idx")]


class DirtyBucket(TenantOwned):
    """An hour whose rollups must be recomputed (a late or new raw row landed in it)."""

    hour = models.DateTimeField()
    marked_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "hour"], name="dirtybucket_unique")]


class RollupCursor(models.Model):
    """The last raw row id per source already turned into dirty marks (global, not per tenant)."""

    source = models.CharField(max_length=40, unique=True)
    last_id = models.BigIntegerField(default=0)


class KpiMetric(models.TextChoices):
    CONNECT_RATE = "connect_rate", _("Connect rate (%)")
    SATISFACTION = "satisfaction", _("Satisfaction (%)")
    FRT = "frt", _("Average first response time (s)")
    AHT = "aht", _("Average handling time (s)")
    ACCEPTED = "accepted", _("Conversations accepted")


LOWER_IS_BETTER = {KpiMetric.FRT, KpiMetric.AHT}


class KpiTarget(TenantOwned):
    """A branch KPI target set by the super admin (F30)."""

    branch = models.ForeignKey("accounts.Branch", on_delete=models.CASCADE, related_name="+", verbose_name=_("branch"))
    metric = models.CharField(_("metric"), max_length=20, choices=KpiMetric.choices)
    target = models.FloatField(_("target"))
    created_at = models.DateTimeField(auto_now_add=True)

    subtree_field = "branch"

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [models.UniqueConstraint(fields=["branch", "metric"], name="kpitarget_unique")]

    def __str__(self) -> str:
        return f"{self.branch} {self.get_metric_display()} {self.target:g}"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ExportKind(models.TextChoices):
    HISTORY = "history", _("Conversation history")
    REPORT = "report", _("Report")


class ExportJob(TenantOwned):
    """F17/F33: one export of a history filter or of a report, written by Celery in chunks."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=ExportKind.choices, default=ExportKind.HISTORY)
    # The requester's language when they asked: headers and values are written in it.
    language = models.CharField(max_length=10, blank=True)
    format = models.CharField(max_length=5, choices=ExportFormat.choices, default=ExportFormat.CSV)
    filters = models.JSONField(default=dict, blank=True)
    include_transcript = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=private_upload_to, blank=True)
    transcript_file = models.FileField(upload_to=private_upload_to, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_format_display()})"

    @property
    def progress(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(99, int(self.done * 100 / self.total))


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


class FollowUpSource(models.TextChoices):
    RATING = "rating", _("Dissatisfied rating")
    LEAVE_MESSAGE = "leave_message", _("Left message")
    MANUAL = "manual", _("Created by staff")


class FollowUpOutcome(models.TextChoices):
    RESOLVED = "resolved", _("Resolved")
    CONTACTED = "contacted", _("Contacted, more to do")
    UNREACHABLE = "unreachable", _("Could not reach the customer")
    NO_ACTION = "no_action", _("Nothing to do")


class FollowUpTask(TenantOwned):
    """F43: a dissatisfied rating or a left message becomes a follow-up task with an owner, a due
    time and an outcome: supervisors see their subtree's, agents the ones they own (workbench)."""

    source = models.CharField(_("from"), max_length=20, choices=FollowUpSource.choices, default=FollowUpSource.RATING)
    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("conversation"),
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("customer"),
    )
    rating = models.OneToOneField(
        "conversations.Rating",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rating"),
    )
    leave_message = models.OneToOneField(
        "routing.LeaveMessage",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("left message"),
    )
    branch = models.ForeignKey(
        "accounts.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(_("status"), max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.OPEN)
    outcome = models.CharField(_("outcome"), max_length=20, choices=FollowUpOutcome.choices, blank=True)
    result = models.TextField(_("result"), blank=True)
    note = models.TextField(_("what to follow up"), blank=True)  # written by staff on a manual task
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        ordering = ["status", "due_at"]
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")


class TrackingSubscription(TenantOwned):
    """F59: a staff member follows a customer's issue; every handling step is notified."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    webhook_url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "user"], name="tracking_unique")]


class TrackingNotification(TenantOwned):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    step = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    is_read = models.BooleanField(default=False)
    # Dedup key: the source row that produced it, so a redelivered task does not notify twice.
    source = models.CharField(max_length=80)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["user", "source"], name="tracking_notification_once")]
