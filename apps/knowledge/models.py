"""Knowledge base (FAQ), matching vocabulary, bot settings and state, captured slots, keyword alerts."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import ConversationBoundQuerySet
from apps.core.tenancy import TenantOwned
from apps.knowledge.capture import DEFAULT_WAYBILL_PATTERNS


class FaqEntry(TenantOwned):
    """One FAQ: a standard question, its other phrasings and the answer the bot gives."""

    branch = models.ForeignKey(
        "accounts.Branch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("branch"),
        help_text=_("Empty: the whole company."),
    )
    channel = models.ForeignKey(
        "kf_channels.Channel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("channel"),
        help_text=_("Empty: every channel."),
    )
    question = models.CharField(_("standard question"), max_length=200)
    similar_questions = models.JSONField(_("similar questions"), default=list, blank=True)
    answer = models.TextField(_("answer"))
    # [{"title": "...", "url": "https://..."}] and ["https://.../a.png"]
    links = models.JSONField(_("links"), default=list, blank=True)
    images = models.JSONField(_("images"), default=list, blank=True)
    category = models.CharField(_("category"), max_length=50, blank=True, db_index=True)
    # Slots the bot asks for after giving this answer when they are not known yet ("waybill", "phone" ...).
    ask_slots = models.JSONField(_("ask for information"), default=list, blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_to = models.DateTimeField(_("valid until"), null=True, blank=True)
    hit_count = models.PositiveIntegerField(_("answered by bot"), default=0)
    use_count = models.PositiveIntegerField(_("used by agents"), default=0)
    helpful_count = models.PositiveIntegerField(_("marked helpful"), default=0)
    unhelpful_count = models.PositiveIntegerField(_("marked not helpful"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ["category", "id"]
        indexes = [models.Index(fields=["tenant", "is_enabled"], name="faq_tenant_enabled_idx")]

    def __str__(self) -> str:
        return self.question

    def is_valid_at(self, when=None) -> bool:
        when = when or timezone.now()
        if self.valid_from and when < self.valid_from:
            return False
        return not (self.valid_to and when > self.valid_to)


class TermKind(models.TextChoices):
    WORD = "word", _("Dictionary word")
    SYNONYM = "synonym", _("Synonym group")


class KbTerm(TenantOwned):
    """The tenant's own vocabulary: domain words kept whole when segmenting, and synonym groups."""

    kind = models.CharField(_("kind"), max_length=10, choices=TermKind.choices, default=TermKind.WORD)
    term = models.CharField(
        _("word"), max_length=50, help_text=_("For a synonym group, the word every synonym is read as.")
    )
    synonyms = models.CharField(
        _("synonyms"), max_length=500, blank=True, help_text=_("Comma separated, e.g. 邮费,快递费")
    )

    class Meta:
        verbose_name = _("dictionary word / synonym")
        verbose_name_plural = _("dictionary and synonyms")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "term"], name="kbterm_unique")]

    def __str__(self) -> str:
        return self.term

    def synonym_list(self) -> list[str]:
        raw = self.synonyms.replace("，", ",").replace("、", ",")
        return [s.strip() for s in raw.split(",") if s.strip()]


class KbIndexState(models.Model):
    """Bumped on every change to a tenant's entries or vocabulary: each process rebuilds its index."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.PositiveBigIntegerField(default=1)


class Provider(models.TextChoices):
    LOCAL = "local", _("Built-in knowledge base (BM25)")
    HTTP = "http", _("External AI service over HTTP")


class BotSettings(TenantOwned):
    """Per-tenant bot and handoff rules."""

    confidence_threshold = models.FloatField(
        _("confidence threshold"), default=0.3, help_text=_("Answers below this confidence count as low confidence.")
    )
    max_low_confidence = models.PositiveSmallIntegerField(_("hand off after N low-confidence answers"), default=2)
    handoff_words = models.CharField(
        _("words asking for a human"), max_length=500, default="转人工,人工客服,人工服务,找人工,真人,人工"
    )
    urgent_words = models.CharField(
        _("urgent words (hand off at once)"), max_length=500, default="丢件,丢失,破损,投诉,报警,急件,赔偿"
    )
    vip_handoff = models.BooleanField(_("hand VIP customers to a human at once"), default=True)
    greeting = models.TextField(_("bot greeting"), blank=True, default="您好，我是智能客服小安，请问有什么可以帮您？")
    fallback_text = models.TextField(
        _("fallback answer"), default="抱歉，我没有完全理解您的问题。您可以换个说法，或者点击“转人工”联系人工客服。"
    )
    handoff_text = models.TextField(_("handoff message"), default="正在为您转接人工客服，请稍候……")
    offhours_text = models.TextField(
        _("off-hours message"),
        default="现在是非工作时间，人工客服暂时不在线。请直接留言并留下手机号，我们上班后会第一时间联系您。",
    )
    message_taken_text = models.TextField(
        _("message taken reply"), default="您的留言已记录，工作时间内客服会尽快联系您。"
    )
    # Service hours are the working hours (apps.routing WorkingHours/Holiday), one calendar for
    # the bot, dispatch and service levels.
    # Slots asked for once before a handoff when not yet captured, e.g. ["phone", "waybill"].
    slots_before_handoff = models.JSONField(_("ask before handoff"), default=list, blank=True)
    waybill_patterns = models.TextField(
        _("waybill number patterns"),
        blank=True,
        default="\n".join(DEFAULT_WAYBILL_PATTERNS),
        help_text=_("One regular expression per line."),
    )
    provider = models.CharField(_("answer provider"), max_length=10, choices=Provider.choices, default=Provider.LOCAL)
    provider_url = models.URLField(_("external service URL"), blank=True)
    provider_token = models.CharField(_("external service token"), max_length=200, blank=True)
    provider_timeout = models.FloatField(_("external service timeout (s)"), default=3.0)
    suggest_limit = models.PositiveSmallIntegerField(_("suggestions shown"), default=5)
    # The tenant's waybill tracking service (apps.knowledge.tracking); empty = the bot does not look up.
    tracking_url = models.URLField(
        _("tracking service URL"),
        blank=True,
        help_text=_("A visitor who gives a waybill number is answered with its status from this service."),
    )
    tracking_secret = models.CharField(
        _("tracking service secret"), max_length=200, blank=True, help_text=_("Signs each request (X-Kefu-Signature).")
    )
    tracking_timeout = models.FloatField(_("tracking service timeout (s)"), default=3.0)

    class Meta:
        verbose_name = _("bot settings")
        verbose_name_plural = _("bot settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="botsettings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("bot settings"))

    @staticmethod
    def split_words(raw: str) -> list[str]:
        raw = (raw or "").replace("，", ",").replace("、", ",").replace("\n", ",")
        return [w.strip() for w in raw.split(",") if w.strip()]


class HandoffReason(models.TextChoices):
    REQUESTED = "requested", _("Visitor asked for a human")
    LOW_CONFIDENCE = "low_confidence", _("Bot could not answer")
    URGENT = "urgent", _("Urgent words")
    VIP = "vip", _("VIP customer")
    TRACKING_FAILED = "tracking_failed", _("Waybill could not be looked up")


class ConversationBotState(TenantOwned):
    """The bot's memory of one conversation."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="bot_state"
    )
    low_confidence_streak = models.PositiveSmallIntegerField(default=0)
    answers = models.PositiveIntegerField(default=0)
    asked_slots = models.JSONField(default=list, blank=True)
    awaiting_handoff_reason = models.CharField(max_length=20, blank=True)
    handoff_reason = models.CharField(_("handoff reason"), max_length=20, choices=HandoffReason.choices, blank=True)
    handoff_detail = models.CharField(max_length=200, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    taking_message = models.BooleanField(default=False)
    left_message = models.TextField(_("message left off-hours"), blank=True)


class BotAnswer(TenantOwned):
    """Every bot reply: what it matched, how sure it was, and the visitor's feedback."""

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    question_message = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, related_name="+", verbose_name=_("question")
    )
    reply_message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("reply")
    )
    entry = models.ForeignKey(
        FaqEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("FAQ entry")
    )
    confidence = models.FloatField(_("confidence"), default=0)
    provider = models.CharField(_("answered by"), max_length=10, default=Provider.LOCAL)
    # answered / fallback / handoff / message_taken ... (shown through apps.knowledge.admin's labels)
    outcome = models.CharField(_("outcome"), max_length=40, blank=True)
    helpful = models.BooleanField(_("helpful"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("bot answer")
        verbose_name_plural = _("bot answers")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class Slot(models.TextChoices):
    PHONE = "phone", _("Phone")
    WAYBILL = "waybill", _("Waybill number")
    NAME = "name", _("Name")
    ADDRESS = "address", _("Address")


class CapturedSlot(TenantOwned):
    """F55: a fact captured from a visitor message during the bot phase."""

    objects: ClassVar = ConversationBoundQuerySet.as_manager()  # visible when the conversation is (policy)

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="captured_slots"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    slot = models.CharField(_("information"), max_length=20, choices=Slot.choices)
    value = models.CharField(_("value"), max_length=200)
    message = models.ForeignKey("messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    subtree_field = "conversation__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("captured information")
        verbose_name_plural = _("captured information")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["conversation", "slot", "value"], name="captured_slot_unique")]


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class AlertKeyword(TenantOwned):
    """F53: a high-risk word watched in visitor and agent messages."""

    word = models.CharField(_("keyword"), max_length=50)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.HIGH)
    watch_visitor = models.BooleanField(_("in visitor messages"), default=True)
    watch_staff = models.BooleanField(_("in agent messages"), default=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("alert keyword")
        verbose_name_plural = _("alert keywords")
        constraints = [models.UniqueConstraint(fields=["tenant", "word"], name="alert_keyword_unique")]

    def __str__(self) -> str:
        return self.word


class KeywordAlert(TenantOwned):
    """A conversation flagged by a keyword: once per conversation per keyword."""

    objects: ClassVar = ConversationBoundQuerySet.as_manager()  # visible when the conversation is (policy)

    conversation = models.ForeignKey(
        "conversations.Conversation",
        on_delete=models.CASCADE,
        related_name="keyword_alerts",
        verbose_name=_("conversation"),
    )
    keyword = models.ForeignKey(
        AlertKeyword, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("keyword")
    )
    word = models.CharField(_("keyword"), max_length=50)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    branch = models.ForeignKey(
        "accounts.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("branch")
    )
    message = models.ForeignKey("messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sender_kind = models.CharField(_("said by"), max_length=20)
    excerpt = models.CharField(_("excerpt"), max_length=200)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True, db_index=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("keyword alert")
        verbose_name_plural = _("keyword alerts")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["conversation", "keyword"], name="keyword_alert_once")]

    def __str__(self) -> str:
        return f"{self.word} #{self.conversation_id}"


class SuggestionAction(models.TextChoices):
    SENT = "sent", _("Sent as is")
    EDITED = "edited", _("Edited, then sent")


class SuggestionUsage(TenantOwned):
    """F54: an agent used one of the bot's suggested answers."""

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    entry = models.ForeignKey(FaqEntry, on_delete=models.CASCADE, related_name="usages", verbose_name=_("FAQ entry"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    action = models.CharField(_("how it was used"), max_length=10, choices=SuggestionAction.choices)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("suggested answer used")
        verbose_name_plural = _("suggested answers used")

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class MissedStatus(models.TextChoices):
    OPEN = "open", _("To review")
    ACCEPTED = "accepted", _("Accepted as a phrasing")
    DISMISSED = "dismissed", _("Dismissed")


class MissedQuestion(TenantOwned):
    """A visitor question the bot could not answer with confidence (or that ended in a handoff), with
    the agent's reply that followed and the FAQ entry that reply matches: the bot learns from agents
    when a knowledge-base admin accepts the question as a phrasing of that entry."""

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+", verbose_name=_("conversation")
    )
    question_message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE, related_name="+")
    text = models.CharField(_("question"), max_length=200)
    reason = models.CharField(_("why it was missed"), max_length=30)
    confidence = models.FloatField(_("bot confidence"), default=0)
    suggested_entry = models.ForeignKey(
        FaqEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("bot's guess")
    )
    reply_message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reply_text = models.TextField(_("agent's reply"), blank=True)
    reply_checked = models.BooleanField(default=False)
    matched_entry = models.ForeignKey(
        FaqEntry,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("FAQ the agent's reply matches"),
    )
    match_score = models.FloatField(default=0)
    status = models.CharField(_("status"), max_length=10, choices=MissedStatus.choices, default=MissedStatus.OPEN)
    accepted_entry = models.ForeignKey(
        FaqEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("added to")
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)

    subtree_field = "conversation__branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("question the bot missed")
        verbose_name_plural = _("questions the bot missed")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="missed_tenant_status_idx"),
            models.Index(fields=["reply_checked"], name="missed_reply_checked_idx"),
        ]

    def __str__(self) -> str:
        return self.text
