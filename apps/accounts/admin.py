from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts import services
from apps.accounts.forms import BranchForm, UserForm
from apps.accounts.models import AgentStatus, AgentStatusLog, Branch, SkillGroup, User
from apps.core import labels
from apps.core.admin_site import ReadOnlyScopedAdmin, TenantScopedAdmin, manage_site
from apps.core.errors import ApplicationError


class ActorFormMixin:
    def get_form(self, request, obj=None, change=False, **kwargs):
        base = self.form

        class ActorBound(base):
            def __init__(inner, *args, **kw):
                super().__init__(*args, actor=request.user, **kw)

        kwargs["form"] = ActorBound
        kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)


@admin.register(Branch, site=manage_site)
class BranchAdmin(ActorFormMixin, TenantScopedAdmin):
    form = BranchForm
    list_display = ["indented_name", "code", "is_enabled", "member_count"]
    list_filter = ["is_enabled"]
    search_fields = ["name", "code"]
    actions = ["enable_branches", "disable_branches"]
    fieldsets = [(None, {"fields": ["name", "code", "parent", "is_enabled"]})]

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets

    @admin.display(description=_("name"), ordering="path")
    def indented_name(self, obj):
        return obj.label()

    @admin.display(description=_("members"))
    def member_count(self, obj):
        return obj.members.count()

    def save_model(self, request, obj, form, change):
        parent = form.cleaned_data.get("parent")
        enabled = form.cleaned_data.get("is_enabled", True)
        if change:
            updated = services.branch_update(
                branch=Branch.objects.get(pk=obj.pk),
                actor=request.user,
                name=obj.name,
                code=obj.code,
                parent=parent,
                move=True,
            )
            services.branch_set_enabled(branch=updated, enabled=enabled, actor=request.user)
        else:
            created = services.branch_create(
                tenant=request.user.tenant, name=obj.name, code=obj.code, parent=parent, actor=request.user
            )
            if not enabled:
                services.branch_set_enabled(branch=created, enabled=False, actor=request.user)
            obj.pk = created.pk

    def delete_model(self, request, obj):
        if obj.members.exists() or Branch.objects.get_children_count(obj):
            raise ApplicationError("branch_not_empty", _("Move or remove its people and sub-branches first."))
        super().delete_model(request, obj)

    def has_delete_permission(self, request, obj=None):
        return bool(request.user.is_super_admin or request.user.is_platform_operator)

    @admin.action(description=_("Enable selected branches"))
    def enable_branches(self, request, queryset):
        for branch in queryset:
            services.branch_set_enabled(branch=branch, enabled=True, actor=request.user)
        self.message_user(request, _("Branches enabled."), messages.SUCCESS)

    @admin.action(description=_("Disable selected branches"))
    def disable_branches(self, request, queryset):
        try:
            for branch in queryset:
                services.branch_set_enabled(branch=branch, enabled=False, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, str(exc.message), messages.ERROR)
            return
        self.message_user(request, _("Branches disabled."), messages.SUCCESS)


@admin.register(User, site=manage_site)
class UserAdmin(ActorFormMixin, TenantScopedAdmin):
    form = UserForm
    list_display = ["username", "display_name", "role", "branch", "status", "max_chats_cap", "is_active", "last_login"]
    list_filter = ["role", "status", "is_active"]
    search_fields = ["username", "display_name", "phone"]
    list_select_related = ["branch"]
    actions = ["disable_users", "enable_users"]
    fieldsets = [
        (None, {"fields": ["username", "password", "display_name", "phone", "email"]}),
        (_("Organisation"), {"fields": ["role", "branch", "skill_groups", "max_chats_cap", "is_active"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return ["username"] if obj else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        actor = request.user
        if change:
            user = User.objects.get(pk=obj.pk)
            services.user_update(
                user=user,
                actor=actor,
                display_name=data["display_name"],
                role=data["role"],
                branch=data.get("branch"),
                set_branch=True,
                max_chats_cap=data["max_chats_cap"],
                phone=data.get("phone", ""),
                email=data.get("email", ""),
            )
            if data.get("password"):
                services.user_set_password(user=user, password=data["password"], actor=actor)
            if data["is_active"] != user.is_active:
                services.user_set_active(user=user, active=data["is_active"], actor=actor)
        else:
            tenant = (
                actor.tenant
                if not actor.is_platform_operator
                else (data.get("branch").tenant if data.get("branch") else None)
            )
            user = services.user_create(
                tenant=tenant,
                username=data["username"],
                password=data["password"],
                role=data["role"],
                branch=data.get("branch"),
                display_name=data["display_name"],
                max_chats_cap=data["max_chats_cap"],
                is_active=data["is_active"],
                email=data.get("email", ""),
                actor=actor,
            )
            obj.pk = user.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        user = form.instance
        groups = list(form.cleaned_data.get("skill_groups") or [])
        current = set(user.skill_groups.values_list("pk", flat=True))
        wanted = {g.pk for g in groups}
        for group in SkillGroup.objects.visible_to(request.user).filter(pk__in=current ^ wanted):
            members = list(group.members.all())
            members = [m for m in members if m.pk != user.pk] + ([user] if group.pk in wanted else [])
            services.skill_group_set_members(group=group, members=members, actor=request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # accounts are disabled, never deleted: reports keep their history

    @admin.action(description=_("Disable selected accounts"))
    def disable_users(self, request, queryset):
        count = 0
        for user in queryset:
            try:
                services.user_set_active(user=user, active=False, actor=request.user)
                count += 1
            except ApplicationError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
        self.message_user(request, ngettext("%d account disabled.", "%d accounts disabled.", count) % count)

    @admin.action(description=_("Enable selected accounts"))
    def enable_users(self, request, queryset):
        for user in queryset:
            services.user_set_active(user=user, active=True, actor=request.user)
        self.message_user(request, _("Accounts enabled."))


@admin.register(SkillGroup, site=manage_site)
class SkillGroupAdmin(TenantScopedAdmin):
    list_display = ["name", "branch", "is_enabled", "member_count"]
    list_filter = ["is_enabled"]
    search_fields = ["name"]
    filter_horizontal = ["members"]
    fields = ["name", "description", "branch", "is_enabled", "members"]

    @admin.display(description=_("members"))
    def member_count(self, obj):
        return obj.members.count()


class StatusFilter(admin.SimpleListFilter):
    title = _("to")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return AgentStatus.choices

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(AgentStatusLog, site=manage_site)
class AgentStatusLogAdmin(ReadOnlyScopedAdmin):
    list_display = ["created_at", "agent", "from_label", "to_label", "actor", "reason_label"]
    list_filter = [StatusFilter]
    fields = readonly_fields = ("created_at", "agent", "from_label", "to_label", "actor", "reason_label")
    ordering = ["-id"]

    # Stored codes (offline, login ...) shown as words.
    @admin.display(description=_("from"), ordering="previous")
    def from_label(self, obj):
        return labels.agent_status(obj.previous) if obj.previous else "-"

    @admin.display(description=_("to"), ordering="status")
    def to_label(self, obj):
        return labels.agent_status(obj.status)

    @admin.display(description=_("reason"), ordering="reason")
    def reason_label(self, obj):
        return labels.reason(obj.reason) or "-"
