from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned, TenantQuerySet


class ConversationQuerySet(TenantQuerySet):
    def visible_to(self, user):
        """What `user` may VIEW: the access policy's rule (apps.conversations.policy)."""
        from apps.conversations import policy

        return policy.conversations_for(user, policy.VIEW, qs=self)


class ConversationBoundQuerySet(TenantQuerySet):
    """Rows that hang off a conversation (transfers, ratings, leave messages, captured facts,
    alerts): visible exactly when their conversation is (apps.conversations.policy). The model
    names the path to it in `conversation_field` (default "conversation")."""

    def visible_to(self, user):
        from apps.conversations import policy

        return policy.scope_through_conversation(self, user)


class ConversationStatus(models.TextChoices):
    BOT = "bot", _("With the bot")
    QUEUED = "queued", _("Waiting in queue")
    ACTIVE = "active", _("In service")
    TRANSFER_PENDING = "transfer_pending", _("Transfer pending")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (
    ConversationStatus.BOT,
    ConversationStatus.QUEUED,
    ConversationStatus.ACTIVE,
    ConversationStatus.TRANSFER_PENDING,
)


class ConversationTag(TenantOwned):
    """F47: the conversation types agents and visitors choose from."""

    name = models.CharField(_("name"), max_length=50)
    color = models.CharField(_("colour"), max_length=7, default="#1f6feb")
    is_enabled = models.BooleanField(_("enabled"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("conversation tag")
        verbose_name_plural = _("conversation tags")
        ordering = ["sort_order", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="tag_name_unique_per_tenant")]

    def __str__(self) -> str:
        return self.name


class Conversation(TenantOwned):
    objects = ConversationQuerySet.as_manager()

    channel = models.ForeignKey(
        "kf_channels.Channel", on_delete=models.PROTECT, related_name="conversations", verbose_name=_("channel")
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="conversations", verbose_name=_("customer")
    )
    # The branch the conversation currently belongs to (routing target, or where it overflowed to).
    branch = models.ForeignKey(
        "accounts.Branch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("branch"),
    )
    skill_group = models.ForeignKey(
        "accounts.SkillGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
        verbose_name=_("skill group"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ConversationStatus.choices, default=ConversationStatus.QUEUED, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_conversations",
        verbose_name=_("agent"),
    )
    priority = models.SmallIntegerField(_("priority"), default=0)
    # "{channel_id}:{customer_id}" while open, NULL once closed: a unique column that enforces
    # one open conversation per visitor per channel on MySQL too (no partial indexes there).
    open_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    last_seq = models.PositiveBigIntegerField(_("last message seq"), default=0)
    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    last_message_preview = models.CharField(_("last message"), max_length=200, blank=True)
    last_visitor_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(ConversationTag, blank=True, related_name="conversations", verbose_name=_("tags"))
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    flags = models.JSONField(_("flags"), default=dict, blank=True)
    created_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_reason = models.CharField(_("close reason"), max_length=50, blank=True)
    # Dispatch state (written by apps.routing through the services here).
    # reach_path: agents whose branch path starts with it may take the conversation from the queue
    # ("" = the whole tenant); widened level by level when it overflows up the org tree.
    reach_path = models.CharField(max_length=255, blank=True, default="")
    # ",3,7," style lists so "may agent 7 take it?" is one indexed LIKE on every database.
    route_agents = models.CharField(max_length=255, blank=True, default="")
    excluded_agents = models.CharField(max_length=255, blank=True, default="")
    inactivity_warned_at = models.DateTimeField(null=True, blank=True)
    # "Waiting for the customer" (snooze): set by the agent, cleared when the customer writes or
    # the agent resumes; closed after the tenant's waiting silence (apps.routing.waiting).
    waiting_since = models.DateTimeField(_("waiting for the customer since"), null=True, blank=True)
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    # Left out of the agent's active count while waiting (the tenant's choice when it started).
    load_released = models.BooleanField(default=False)
    rating_invited_at = models.DateTimeField(null=True, blank=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["tenant", "status", "priority", "queued_at"], name="conv_queue_idx"),
            models.Index(fields=["tenant", "assignee", "status"], name="conv_assignee_idx"),
            models.Index(fields=["tenant", "-created_at"], name="conv_history_idx"),
            models.Index(fields=["customer", "-created_at"], name="conv_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @staticmethod
    def make_open_key(channel_id: int, customer_id: int) -> str:
        return f"{channel_id}:{customer_id}"


class ParticipantKind(models.TextChoices):
    VISITOR = "visitor", _("Visitor")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SUPERVISOR = "supervisor", _("Supervisor")
    SALESPERSON = "salesperson", _("Salesperson")


class Participant(TenantOwned):
    """Who is in a conversation (G5): visitor, agents, bot, supervisors, salespeople."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="participants")
    kind = models.CharField(_("kind"), max_length=20, choices=ParticipantKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # Supervisors who only watch do not appear to the visitor.
    silent = models.BooleanField(default=False)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "kind", "user"], name="participant_unique")]


class ConversationEvent(TenantOwned):
    """Every lifecycle transition: who, when, from, to, why. Reports are computed from these."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    branch = models.ForeignKey("accounts.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "kind", "created_at"], name="convevent_report_idx")]


class Rating(TenantOwned):
    """F3: the visitor's satisfaction rating of a conversation."""

    objects = ConversationBoundQuerySet.as_manager()

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="rating")
    score = models.PositiveSmallIntegerField(_("score"))  # 1..5
    tags = models.JSONField(_("tags"), default=list, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    TIMED_OUT = "timed_out", _("Timed out")
    CANCELLED = "cancelled", _("Cancelled")


class Transfer(TenantOwned):
    """F9/F14: a request to hand a conversation to another agent or a skill group."""

    objects = ConversationBoundQuerySet.as_manager()

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="transfers")
    from_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("from agent")
    )
    to_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to agent"),
    )
    to_skill_group = models.ForeignKey(
        "accounts.SkillGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to skill group"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING, db_index=True
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-id"]
