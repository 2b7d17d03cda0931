"""Back office (/manage/) for the knowledge base, bot settings, vocabulary and keyword alerts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from apps.core import labels
from apps.core.admin_site import ReadOnlyScopedAdmin, SuperAdminOnly, TenantScopedAdmin, manage_site
from apps.core.errors import ApplicationError
from apps.knowledge import learning, services
from apps.knowledge.models import (
    AlertKeyword,
    BotAnswer,
    BotSettings,
    CapturedSlot,
    FaqEntry,
    KbTerm,
    KeywordAlert,
    MissedQuestion,
    Provider,
    SuggestionUsage,
)


class LinesField(forms.CharField):
    """A list of strings edited as one per line."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 80})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class FaqEntryForm(forms.ModelForm):
    similar_questions = LinesField(label=_("similar questions"), required=False, help_text=_("One phrasing per line."))
    images = LinesField(label=_("images"), required=False, help_text=_("One image URL per line."))

    class Meta:
        model = FaqEntry
        fields = list(services.ENTRY_FIELDS)

    def clean(self):
        data = super().clean()
        try:
            services.faq_entry_clean({k: data.get(k) for k in services.ENTRY_FIELDS if k in data})
        except ApplicationError as exc:
            for field, message in exc.extra.get("fields", {}).items():
                self.add_error(field if field in self.fields else None, message)
        return data


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV or XLSX file"))


class _BumpsIndex:
    """Admin writes go through Django's forms: rebuild the tenant's index after each."""

    def _bump(self, tenant_id):
        if tenant_id:
            services.kb_changed(tenant_id=tenant_id)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._bump(obj.tenant_id)

    def delete_model(self, request, obj):
        tenant_id = obj.tenant_id
        super().delete_model(request, obj)
        self._bump(tenant_id)

    def delete_queryset(self, request, queryset):
        tenant_ids = set(queryset.values_list("tenant_id", flat=True))
        super().delete_queryset(request, queryset)
        for tenant_id in tenant_ids:
            self._bump(tenant_id)


@admin.register(FaqEntry, site=manage_site)
class FaqEntryAdmin(TenantScopedAdmin):
    """Saves, deletions and bulk actions go through the knowledge services (validation, audit and the
    index rebuild live there, not in the admin)."""

    form = FaqEntryForm
    list_display = [
        "question",
        "category",
        "is_enabled",
        "branch",
        "channel",
        "hit_count",
        "use_count",
        "helpful_count",
        "unhelpful_count",
        "updated_at",
    ]
    list_filter = ["category", "is_enabled", "tenant"]
    search_fields = ["question", "answer"]
    actions = ["export_csv", "export_xlsx", "enable", "disable"]
    change_list_template = "knowledge/admin/faq_change_list.html"

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in services.ENTRY_FIELDS if k in form.cleaned_data}
        if change:
            services.faq_entry_update(entry=obj, actor=request.user, **data)
            return
        tenant_id = obj.tenant_id or request.user.tenant_id
        entry = services.faq_entry_create(tenant_id=tenant_id, actor=request.user, **data)
        obj.pk, obj.tenant_id = entry.pk, tenant_id

    def delete_model(self, request, obj):
        services.faq_entry_delete(entry=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            services.faq_entry_delete(entry=entry, actor=request.user)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="knowledge_faqentry_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request) or not request.user.tenant_id:
            return HttpResponseRedirect(reverse("manage:knowledge_faqentry_changelist"))
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = services.faq_import(
                    tenant_id=request.user.tenant_id, content=upload.read(), filename=upload.name, actor=request.user
                )
            except ApplicationError as exc:
                self.message_user(request, str(exc.message), messages.ERROR)
                for row in exc.extra.get("rows", [])[:20]:
                    self.message_user(request, _("Row %(row)s: %(message)s") % row, messages.ERROR)
            else:
                self.message_user(
                    request, _("Imported: %(created)d new, %(updated)d updated.") % result, messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("manage:knowledge_faqentry_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": _("Import FAQ entries"),
        }
        return TemplateResponse(request, "knowledge/admin/import.html", context)

    def _export(self, queryset, fmt):
        content, content_type = services.faq_export(queryset=queryset, fmt=fmt)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="faq.{fmt}"'
        return response

    @admin.action(description=_("Export selected entries (CSV)"))
    def export_csv(self, request, queryset):
        return self._export(queryset, "csv")

    @admin.action(description=_("Export selected entries (XLSX)"))
    def export_xlsx(self, request, queryset):
        return self._export(queryset, "xlsx")

    @admin.action(description=_("Enable selected entries"))
    def enable(self, request, queryset):
        for entry in queryset:
            services.faq_entry_update(entry=entry, actor=request.user, is_enabled=True)

    @admin.action(description=_("Disable selected entries"))
    def disable(self, request, queryset):
        for entry in queryset:
            services.faq_entry_update(entry=entry, actor=request.user, is_enabled=False)


@admin.register(KbTerm, site=manage_site)
class KbTermAdmin(_BumpsIndex, SuperAdminOnly):
    list_display = ["term", "kind", "synonyms"]
    list_filter = ["kind", "tenant"]
    search_fields = ["term", "synonyms"]


class BotSettingsForm(forms.ModelForm):
    class Meta:
        model = BotSettings
        exclude: list[str] = []  # the admin's fieldsets decide what is shown

    def _checked(self, name, check):
        try:
            return check(self.cleaned_data.get(name))
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code)

    def clean_waybill_patterns(self):
        from apps.knowledge.capture import validate_patterns

        return self._checked("waybill_patterns", validate_patterns)

    def clean_provider_url(self):
        from apps.outbound.guard import validate_url

        return self._checked("provider_url", lambda url: validate_url(url) if url else "")

    def clean_tracking_url(self):
        from apps.outbound.guard import validate_url

        return self._checked("tracking_url", lambda url: validate_url(url) if url else "")

    def clean_tracking_timeout(self):
        timeout = self.cleaned_data.get("tracking_timeout")
        if timeout is not None and not 0.5 <= timeout <= 10:
            raise forms.ValidationError(_("Between 0.5 and 10 seconds."), code="invalid_timeout")
        return timeout


@admin.register(BotSettings, site=manage_site)
class BotSettingsAdmin(SuperAdminOnly):
    form = BotSettingsForm
    list_display = ["__str__", "provider", "confidence_threshold", "max_low_confidence", "vip_handoff"]
    fieldsets = [
        (_("Answers"), {"fields": ["greeting", "confidence_threshold", "fallback_text", "suggest_limit"]}),
        (
            _("Handoff rules"),
            {
                "fields": [
                    "max_low_confidence",
                    "handoff_words",
                    "urgent_words",
                    "vip_handoff",
                    "slots_before_handoff",
                    "handoff_text",
                ]
            },
        ),
        (
            _("Off-hours replies"),
            {
                "fields": ["offhours_text", "message_taken_text"],
                "description": _("Service hours are the working hours and holidays set under dispatch."),
            },
        ),
        (_("Information capture"), {"fields": ["waybill_patterns"]}),
        (_("Answer provider"), {"fields": ["provider", "provider_url", "provider_token", "provider_timeout"]}),
        (_("Waybill tracking"), {"fields": ["tracking_url", "tracking_secret", "tracking_timeout"]}),
    ]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not BotSettings.objects.visible_to(request.user).exists()


@admin.register(AlertKeyword, site=manage_site)
class AlertKeywordAdmin(SuperAdminOnly):
    list_display = ["word", "severity", "watch_visitor", "watch_staff", "is_enabled"]
    list_filter = ["severity", "is_enabled", "tenant"]
    search_fields = ["word"]


@admin.register(KeywordAlert, site=manage_site)
class KeywordAlertAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "word", "severity", "conversation", "branch", "sender_kind", "excerpt"]
    list_filter = ["severity", "sender_kind", "tenant"]
    search_fields = ["word", "excerpt"]


@admin.register(CapturedSlot, site=manage_site)
class CapturedSlotAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "conversation", "customer", "slot", "value"]
    list_filter = ["slot", "tenant"]
    search_fields = ["value"]


class BotOutcomeFilter(admin.SimpleListFilter):
    """By what the bot did (the outcome's code before any ":reason")."""

    title = _("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(code, word) for code, word in labels.BOT_OUTCOMES.items()]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(Q(outcome=value) | Q(outcome__startswith=f"{value}:"))


@admin.register(BotAnswer, site=manage_site)
class BotAnswerAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "conversation", "entry", "confidence", "provider_label", "outcome_label", "helpful"]
    list_filter = [BotOutcomeFilter, "helpful", "tenant"]
    fields = readonly_fields = (
        "created_at",
        "conversation",
        "question_message",
        "reply_message",
        "entry",
        "confidence",
        "provider_label",
        "outcome_label",
        "helpful",
    )

    @admin.display(description=_("answered by"), ordering="provider")
    def provider_label(self, obj):
        return dict(Provider.choices).get(obj.provider, obj.provider)

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_label(self, obj):
        return labels.bot_outcome(obj.outcome)


@admin.register(SuggestionUsage, site=manage_site)
class SuggestionUsageAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "conversation", "entry", "agent", "action"]
    list_filter = ["action", "tenant"]


@admin.register(MissedQuestion, site=manage_site)
class MissedQuestionAdmin(TenantScopedAdmin):
    """ "Questions the bot missed": clustered by the FAQ entry the agents' replies matched, counted,
    each accepted as a similar phrasing with one click (apps.knowledge.learning)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:missed_id>/accept/", view(self.accept_view), name="knowledge_missedquestion_accept"),
            path("<int:missed_id>/dismiss/", view(self.dismiss_view), name="knowledge_missedquestion_dismiss"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if request.user.tenant_id:
            learning.missed_replies_collect(tenant_id=request.user.tenant_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Questions the bot missed"),
            "clusters": learning.missed_question_clusters(actor=request.user),
            "entries": FaqEntry.objects.visible_to(request.user).filter(is_enabled=True).order_by("category", "id"),
        }
        return TemplateResponse(request, "knowledge/admin/missed_questions.html", context)

    def _review(self, request, action):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("manage:knowledge_missedquestion_changelist"))
        try:
            action()
        except ApplicationError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)
        return HttpResponseRedirect(reverse("manage:knowledge_missedquestion_changelist"))

    def accept_view(self, request, missed_id):
        entry = request.POST.get("entry", "")
        if not entry.isdigit():
            self.message_user(request, _("Choose the FAQ entry to add the question to."), messages.ERROR)
            return HttpResponseRedirect(reverse("manage:knowledge_missedquestion_changelist"))
        return self._review(
            request,
            lambda: (
                learning.missed_question_accept(actor=request.user, missed_id=missed_id, entry_id=int(entry)),
                self.message_user(request, _("Added as a similar phrasing."), messages.SUCCESS),
            ),
        )

    def dismiss_view(self, request, missed_id):
        return self._review(request, lambda: learning.missed_question_dismiss(actor=request.user, missed_id=missed_id))
