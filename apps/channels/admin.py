"""Back office for channels (F44, G4): branches run their own channels inside their subtree."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.channels import services
from apps.channels.models import Channel, ChannelKind, OutboundDelivery
from apps.channels.widget import VisitorTracking
from apps.core.admin_site import ReadOnlyScopedAdmin, TenantScopedAdmin, manage_site
from apps.core.errors import ApplicationError

# Labels carry the platform consoles' own names (in the zh-Hans catalogue) so admins can match them.
CONFIG_LABELS = {
    "app_id": _("WeChat AppID (official account or mini-program)"),
    "app_secret": _("WeChat AppSecret"),
    "token": _("Token (server configuration / message push / callback)"),
    "encoding_aes_key": _("EncodingAESKey (safe mode)"),
    "original_id": _("WeChat original id (gh_...)"),
    "corp_id": _("WeCom CorpID (WeChat Customer Service)"),
    "secret": _("WeChat Customer Service Secret"),
    "open_kfid": _("Customer-service account ID (open_kfid, wk...)"),
    "api_base_url": _("Platform API base URL (leave empty for WeChat's own)"),
    "api_key": _("Partner API key"),
    "api_secret": _("Partner API secret"),
    "webhook_url": _("Partner webhook URL"),
}
CONFIG_KEYS = list(CONFIG_LABELS)
# Saved through services.channel_create / channel_update (the kind is fixed once created).
CHANNEL_FIELDS = ["name", "branch", "is_enabled", "greeting", "bot_enabled"]
SECRET_FIELDS = services.SECRET_CONFIG_KEYS
# Which kinds each setting applies to (a field not listed applies to every kind). A saved channel's
# form shows only its kind's fields; the add form hides the others as the kind is chosen
# (static/js/manage/channel_form.js reads data-kinds).
FIELD_KINDS: dict[str, list[str]] = {
    "allowed_origins_text": [ChannelKind.WEB],
    "prechat_fields": [ChannelKind.WEB, ChannelKind.APP],
    "offline_message": [ChannelKind.WEB, ChannelKind.APP],
    "rating_tags": [ChannelKind.WEB, ChannelKind.APP],
    "theme_color": [ChannelKind.WEB, ChannelKind.APP],
    "visitor_tracking": [ChannelKind.WEB],
    "cards_text": [ChannelKind.MINIPROGRAM],
    "card_thumb_upload": [ChannelKind.MINIPROGRAM],
    **{f"cfg_{key}": [kind for kind, keys in services.KIND_CONFIG_KEYS.items() if key in keys] for key in CONFIG_KEYS},
}


def field_applies(field: str, kind: str) -> bool:
    return field not in FIELD_KINDS or kind in FIELD_KINDS[field]


class ChannelForm(forms.ModelForm):
    allowed_origins_text = forms.CharField(
        label=_("Allowed origins"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Web widget: one origin per line, e.g. https://www.example.com"),
    )
    prechat_fields = forms.MultipleChoiceField(
        label=_("Pre-chat form"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[("name", _("Name")), ("phone", _("Phone")), ("email", _("Email")), ("subject", _("Question"))],
        help_text=_("Asked before an anonymous visitor's chat starts (signed-in customers skip it)."),
    )
    offline_message = forms.CharField(
        label=_("Off-hours message"),
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown above the leave-a-message form; empty = the company's default."),
    )
    rating_tags = forms.CharField(
        label=_("Rating tags"),
        required=False,
        max_length=300,
        help_text=_("Comma-separated tags visitors can pick when rating; empty = the defaults."),
    )
    cards_text = forms.CharField(
        label=_("Mini-program cards"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Mini-program: cards agents can send, one per line as “title | page path”."),
    )
    card_thumb_upload = forms.ImageField(
        label=_("Mini-program card cover"),
        required=False,
        help_text=_("Mini-program: the cover image of the cards (520 × 416 recommended, at most 2 MB)."),
    )
    visitor_tracking = forms.ChoiceField(
        label=_("Visitor context"),
        required=False,
        choices=VisitorTracking.choices,
        initial=VisitorTracking.ON,
        help_text=_(
            "Website: whether the widget reports the pages visitors view (shown live to agents and "
            "supervisors). Browsers that send Do Not Track or Global Privacy Control are never tracked."
        ),
    )
    theme_color = forms.RegexField(
        label=_("Widget colour"),
        required=False,
        regex=r"^#[0-9a-fA-F]{6}$",
        max_length=7,
        help_text=_("Like #1f6feb"),
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "branch", "is_enabled", "greeting", "bot_enabled"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        config = self.instance.config or {}
        for key in CONFIG_KEYS:
            if f"cfg_{key}" not in self.fields:
                continue
            if key in SECRET_FIELDS:
                if config.get(key):
                    self.fields[f"cfg_{key}"].help_text = _("Set. Leave empty to keep the current value.")
            else:
                self.fields[f"cfg_{key}"].initial = config.get(key, "")
        self.fields["allowed_origins_text"].initial = "\n".join(self.instance.allowed_origins or [])
        self.fields["prechat_fields"].initial = config.get("prechat_fields", [])
        self.fields["offline_message"].initial = config.get("offline_message", "")
        self.fields["rating_tags"].initial = ", ".join(config.get("rating_tags", []))
        self.fields["theme_color"].initial = config.get("theme_color", "")
        self.fields["visitor_tracking"].initial = config.get("visitor_tracking", VisitorTracking.ON)
        self.fields["cards_text"].initial = "\n".join(
            f"{c.get('title', '')} | {c.get('pagepath', '')}" for c in config.get("cards") or []
        )
        if config.get("card_thumb"):
            self.fields["card_thumb_upload"].help_text = _("A cover is set. Upload another to replace it.")
        for field, kinds in FIELD_KINDS.items():
            if field in self.fields:
                self.fields[field].widget.attrs["data-kinds"] = " ".join(kinds)
        if self.instance.pk and "kind" in self.fields:  # (a read-only view has no form fields)
            # The kind decides which hooks and callbacks apply; it is fixed once created.
            self.fields["kind"].disabled = True

    def clean_cards_text(self) -> list[dict]:
        try:
            return services.parse_cards(self.cleaned_data.get("cards_text") or "")
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message))

    def clean_card_thumb_upload(self):
        thumb = self.cleaned_data.get("card_thumb_upload")
        if thumb is not None and thumb.size > 2 * 1024 * 1024:
            raise forms.ValidationError(_("The cover image may be at most 2 MB."))
        return thumb

    def clean_branch(self):
        branch = self.cleaned_data.get("branch")
        user = self.request.user if self.request else None
        if user is not None and not (user.is_super_admin or user.is_platform_operator):
            if branch is None:
                raise forms.ValidationError(_("Choose the branch this channel belongs to."))
            if not user.can_reach_branch(branch):
                raise forms.ValidationError(_("Not found."))
        return branch

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        config = services.channel_config_build(
            kind=kind,
            stored=self.instance.config or {},
            credentials={key: cleaned.get(f"cfg_{key}") or "" for key in CONFIG_KEYS},
            prechat_fields=cleaned.get("prechat_fields") or [],
            offline_message=cleaned.get("offline_message") or "",
            rating_tags=cleaned.get("rating_tags") or "",
            theme_color=cleaned.get("theme_color") or "",
            visitor_tracking=cleaned.get("visitor_tracking") or "",
            cards=cleaned.get("cards_text") or [],
        )
        origins = (cleaned.get("allowed_origins_text") or "").splitlines()
        try:  # the service checks again on save; here the admin sees the problem on the form
            self.channel_config, self.channel_origins = services.channel_validate(
                kind=kind, config=config, allowed_origins=origins
            )
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message))
        return cleaned


for _key in CONFIG_KEYS:
    _widget = forms.PasswordInput(render_value=False) if _key in SECRET_FIELDS else forms.TextInput()
    _field = forms.CharField(label=CONFIG_LABELS[_key], required=False, widget=_widget)
    ChannelForm.base_fields[f"cfg_{_key}"] = _field
    ChannelForm.declared_fields[f"cfg_{_key}"] = _field


@admin.register(Channel, site=manage_site)
class ChannelAdmin(TenantScopedAdmin):
    form = ChannelForm
    list_display = ["name", "kind", "branch", "is_enabled", "key", "created_at"]
    list_filter = ["kind", "is_enabled", "tenant"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "integration"]
    actions = ["enable_channels", "disable_channels", "list_wecom_accounts"]

    def save_model(self, request, obj, form, change):
        config = form.channel_config
        thumb = form.cleaned_data.get("card_thumb_upload")
        if thumb is not None:
            config = {**config, "card_thumb": services.channel_card_thumb_store(upload=thumb)}
        fields = {name: form.cleaned_data.get(name, getattr(obj, name)) for name in CHANNEL_FIELDS}
        fields |= {"actor": request.user, "config": config, "allowed_origins": form.channel_origins}
        if change:
            services.channel_update(channel=obj, **fields)
        else:
            saved = services.channel_create(
                tenant=obj.tenant if obj.tenant_id else request.user.tenant, kind=obj.kind, **fields
            )
            obj.pk = saved.pk
            obj._state.adding = False
        obj.refresh_from_db()

    class Media:
        js = ["js/manage/channel_form.js"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class RequestForm(form_class):
            def __init__(self, *args, **kw):
                kw["request"] = request
                super().__init__(*args, **kw)

        return RequestForm

    def get_fieldsets(self, request, obj=None):
        config_fields = [f"cfg_{k}" for k in CONFIG_KEYS]
        base = ["name", "kind", "branch", "is_enabled", "greeting", "bot_enabled"]
        if request.user.is_platform_operator:
            base.insert(0, "tenant")
        sets = [
            (None, {"fields": base}),
            (
                _("Website widget"),
                {
                    "fields": [
                        "allowed_origins_text",
                        "prechat_fields",
                        "offline_message",
                        "rating_tags",
                        "theme_color",
                        "visitor_tracking",
                    ]
                },
            ),
            (_("Credentials"), {"fields": config_fields}),
            (_("Mini-program"), {"fields": ["cards_text", "card_thumb_upload"]}),
        ]
        if obj is not None:  # a saved channel's kind is fixed: only its own settings
            sets = [
                (title, {"fields": [f for f in opts["fields"] if field_applies(f, obj.kind)]}) for title, opts in sets
            ]
            sets = [(title, opts) for title, opts in sets if opts["fields"]]
        if obj is not None:
            fields = ["key", "integration"]
            if obj.kind in (ChannelKind.WEB, ChannelKind.APP) and self._sees_identity_secret(request):
                fields.append("identity_secret")
            sets.append((_("Integration"), {"fields": fields}))
        return sets

    @staticmethod
    def _sees_identity_secret(request) -> bool:
        # The signing secret is company-wide: only super admins (and operators) may read it.
        return request.user.is_super_admin or request.user.is_platform_operator

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if self._sees_identity_secret(request):
            fields.append("identity_secret")
        return fields

    @admin.display(description=_("Identity signing secret (HMAC, for your server only)"))
    def identity_secret(self, obj):
        if obj is None or obj.pk is None:
            return ""
        return format_html("<code>{}</code>", obj.tenant.identity_secret)

    def _may_change(self, request, obj) -> bool:
        user = request.user
        if user.is_super_admin or user.is_platform_operator:
            return True
        # Supervisors see tenant-wide channels but only their own branches' channels are theirs to change.
        return obj.branch_id is not None and user.can_reach_branch(obj.branch)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not self._may_change(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not self._may_change(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # The snippets name this server as the admin reaches it (behind the proxy's host).
            obj.public_base = request.build_absolute_uri("/").rstrip("/")
        return obj

    @admin.display(description=_("How to connect"))
    def integration(self, obj):
        if obj is None or obj.pk is None:
            return ""
        base = getattr(obj, "public_base", "")
        if obj.kind == ChannelKind.WEB:
            script = static("channels/widget.js")
            return format_html(
                '<code>&lt;script src="{}{}" data-channel="{}" async&gt;&lt;/script&gt;</code>', base, script, obj.key
            )
        if obj.kind == ChannelKind.WECHAT:
            return format_html("<code>{}{}</code>", base, reverse("channels:wechat-callback", args=[obj.key]))
        if obj.kind == ChannelKind.WECOM_KF:
            return format_html("<code>{}{}</code>", base, reverse("channels:wecom-kf-callback", args=[obj.key]))
        if obj.kind == ChannelKind.MINIPROGRAM:
            return format_html("<code>{}{}</code>", base, reverse("channels:miniprogram-callback", args=[obj.key]))
        if obj.kind == ChannelKind.PARTNER:
            return format_html("<code>POST {}{}</code>", base, reverse("v1:partner-messages", args=[obj.key]))
        return ""

    def _set_enabled(self, request, queryset, enabled: bool):
        changed = 0
        for channel in queryset:
            if not self._may_change(request, channel):
                raise Http404
            services.channel_set_enabled(channel=channel, enabled=enabled, actor=request.user)
            changed += 1
        self.message_user(request, _("%(n)d channel(s) updated.") % {"n": changed}, messages.SUCCESS)

    @admin.action(description=_("Enable selected channels"))
    def enable_channels(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description=_("Disable selected channels"))
    def disable_channels(self, request, queryset):
        self._set_enabled(request, queryset, False)

    @admin.action(description=_("Show the WeChat Customer Service accounts of the selected channels"))
    def list_wecom_accounts(self, request, queryset):
        """Asks WeCom (kf/account/list) which accounts the Secret may manage, with their open_kfid:
        the ID WeCom's console does not show."""
        for channel in queryset.filter(kind=ChannelKind.WECOM_KF):
            try:
                accounts = services.wecom_accounts(channel=channel)
            except ApplicationError as exc:
                self.message_user(request, f"{channel.name}: {exc.message}", messages.ERROR)
                continue
            if not accounts:
                self.message_user(request, _("%(channel)s: no accounts.") % {"channel": channel.name}, messages.WARNING)
            for account in accounts:
                self.message_user(
                    request,
                    _("%(channel)s: %(name)s — open_kfid %(id)s%(mark)s")
                    % {
                        "channel": channel.name,
                        "name": account["name"],
                        "id": account["open_kfid"],
                        "mark": _(" (this channel)") if account["open_kfid"] == channel.cfg("open_kfid") else "",
                    },
                    messages.INFO,
                )


@admin.register(OutboundDelivery, site=manage_site)
class OutboundDeliveryAdmin(ReadOnlyScopedAdmin):
    list_display = ["message", "channel", "status", "attempts", "last_error", "created_at", "delivered_at"]
    list_filter = ["status"]
