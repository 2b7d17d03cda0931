from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.files import private_upload_to
from apps.core.tenancy import TenantOwned


class SenderKind(models.TextChoices):
    VISITOR = "visitor", _("Visitor")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")
    SUPERVISOR = "supervisor", _("Supervisor")
    SALESPERSON = "salesperson", _("Salesperson")


class ContentType(models.TextChoices):
    TEXT = "text", _("Text")
    IMAGE = "image", _("Image")
    FILE = "file", _("File")
    SYSTEM = "system", _("System notice")
    EVENT = "event", _("Event")


class Visibility(models.TextChoices):
    ALL = "all", _("Everyone")
    STAFF = "staff", _("Staff only (whisper / internal note)")


class Message(TenantOwned):
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="messages")
    # Gap-free per conversation: allocated under the conversation's row lock.
    seq = models.PositiveBigIntegerField()
    # The sender's own id for the message: resending it returns the original message.
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    sender_kind = models.CharField(max_length=20, choices=SenderKind.choices)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_type = models.CharField(max_length=20, choices=ContentType.choices, default=ContentType.TEXT)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.ALL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Recalled by its sender (apps.messaging.recall): body and payload are emptied, the original
    # is kept in MessageRecall for supervisors.
    recalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            models.UniqueConstraint(fields=["conversation", "client_msg_id"], name="message_client_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


class MessageOutbox(models.Model):
    """The after-commit work of one written batch, committed with it (a transactional outbox).

    One row per batch, written in the batch's transaction: the ids of the messages whose
    `on_messages_committed` listeners (push, search index, bot, alerts, dispatch) must run. The
    send path hands that work off after its commit and marks the row handed off (a cache key);
    `apps.messaging.outbox.outbox_sweep` (beat) deletes handed-off rows and runs the listeners
    again for the others: a commit whose outcome the sender never learned (the database went
    away during COMMIT) or a process killed between COMMIT and its callbacks. Holds ids only (no
    text), across tenants: it is infrastructure, not a tenant's data.
    """

    created_at = models.DateTimeField(db_index=True)
    message_ids = models.JSONField()
    # Names the row's hand-off mark in the cache (an id may come back after a restore).
    token = models.CharField(max_length=32)
    # A sweeper running this row's work holds it until then; another sweeper skips it.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message outbox row")
        verbose_name_plural = _("message outbox rows")


class Attachment(TenantOwned):
    """An uploaded file, checked by size and content and, for images, re-encoded."""

    file = models.FileField(upload_to=private_upload_to)
    original_name = models.CharField(max_length=200, blank=True)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploaded_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)


class PushDelivery(TenantOwned):
    """One offline push of one message to one recipient: the row is the idempotency key.

    unique(message, recipient_kind, recipient_id) makes "at most once per message per
    recipient" hold however often the task runs; the webhook also gets the row id as
    X-Kefu-Delivery so the gateway can drop a repeat after a lost response.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="push_deliveries")
    recipient_kind = models.CharField(max_length=10)  # "visitor" (customer id) or "agent" (user id)
    recipient_id = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("push delivery")
        verbose_name_plural = _("push deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["message", "recipient_kind", "recipient_id"], name="push_once_per_recipient"
            )
        ]


class RecallSettings(TenantOwned):
    """How long after sending staff may recall their own message (0: never)."""

    window_seconds = models.PositiveIntegerField(
        _("recall window (s)"),
        default=120,
        help_text=_("Staff may recall their own message this long after sending it; 0 turns recall off."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message recall")
        verbose_name_plural = _("message recall")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="recall_settings_once")]

    def __str__(self) -> str:
        return str(_("Message recall"))


class MessageRecall(TenantOwned):
    """A recalled message as it was, for supervisors (and the audit): who recalled it and when.
    Listed in apps/privacy/scrub.py like every other copy of a conversation's text."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="recall")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    recalled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recalled_at = models.DateTimeField()
    notice_seq = models.PositiveBigIntegerField()  # the seq of the recall notice (message_recalled)
    content_type = models.CharField(max_length=20, choices=ContentType.choices)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)

    subtree_field = "conversation__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("recalled message")
        verbose_name_plural = _("recalled messages")
        ordering = ["-recalled_at"]


class Mention(TenantOwned):
    """A colleague @mentioned in an internal note: notified live, given a view of the conversation
    (as an active participant, which the access policy counts), audited; one per note and person."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="mention_once")]
        indexes = [models.Index(fields=["user", "read_at"], name="mention_inbox_idx")]
