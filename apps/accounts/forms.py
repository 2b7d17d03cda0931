from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import ROLE_RANK, Branch, Role, SkillGroup, User


class BranchChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.label()


class BranchForm(forms.ModelForm):
    parent = BranchChoiceField(queryset=Branch.objects.none(), required=False, label=_("parent branch"))

    class Meta:
        model = Branch
        fields = ["name", "code", "is_enabled"]

    def __init__(self, *args, actor: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        qs = Branch.objects.visible_to(actor)
        if self.instance.pk:
            qs = qs.exclude(path__startswith=self.instance.path)
            parent = Branch.objects.get_parent(self.instance)
            self.fields["parent"].initial = parent.pk if parent else None
        self.fields["parent"].queryset = qs


def _assignable_roles(actor: User):
    if actor.is_platform_operator:
        return Role.choices
    return [
        (value, label)
        for value, label in Role.choices
        if value != Role.PLATFORM_OPERATOR and ROLE_RANK[Role(value)] <= ROLE_RANK[Role(actor.role)]
    ]


class UserForm(forms.ModelForm):
    branch = BranchChoiceField(queryset=Branch.objects.none(), required=False, label=_("branch"))
    password = forms.CharField(
        label=_("password"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=_("Leave empty to keep the current password."),
    )
    skill_groups = forms.ModelMultipleChoiceField(
        queryset=SkillGroup.objects.none(), required=False, label=_("skill groups"), widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = User
        fields = ["username", "display_name", "phone", "email", "role", "branch", "max_chats_cap", "is_active"]

    def __init__(self, *args, actor: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["branch"].queryset = Branch.objects.visible_to(actor)
        self.fields["role"].choices = _assignable_roles(actor)
        self.fields["skill_groups"].queryset = SkillGroup.objects.visible_to(actor)
        if self.instance.pk:
            self.fields["skill_groups"].initial = list(self.instance.skill_groups.values_list("pk", flat=True))
        else:
            self.fields["password"].required = True
            self.fields["password"].help_text = ""

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if password:
            user = self.instance
            if not user.pk:
                user = User(**{f: self.cleaned_data.get(f) for f in ("username", "display_name", "phone", "email")})
            validate_password(password, user)
        return password


class BackoffAuthenticationForm(AuthenticationForm):
    """Django's login form with per-account backoff (apps.accounts.login_guard): after a few
    failures for a user name, the next attempt waits longer each time, from any address."""

    def clean(self):
        from apps.accounts.login_guard import login_failed, login_succeeded, login_wait_seconds

        username = self.data.get("username") or ""
        wait = login_wait_seconds(username)
        if wait:
            raise forms.ValidationError(
                _("Too many failed attempts for this account. Try again in %(n)d seconds.") % {"n": wait},
                code="account_backoff",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                login_failed(username)
            raise
        login_succeeded(username)
        return cleaned
