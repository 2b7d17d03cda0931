from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from apps.core.tenancy import TenantOwned, TenantQuerySet


class BranchQuerySet(MP_NodeQuerySet, TenantQuerySet):
    pass


class BranchManager(MP_NodeManager):
    def get_queryset(self):
        return BranchQuerySet(self.model, using=self._db).order_by("path")

    def visible_to(self, user):
        return self.get_queryset().visible_to(user)

    def for_tenant(self, tenant):
        return self.get_queryset().for_tenant(tenant)


class Branch(MP_Node, TenantOwned):
    """A node of the organisation tree (网点). Any depth; a supervisor's reach is a subtree.

    Materialised path (treebeard): the subtree of a branch is `path__startswith=branch.path`,
    one indexed range scan whatever the depth.
    """

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=50, blank=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects: ClassVar[BranchManager] = BranchManager()
    subtree_field = "self"

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code"], name="branch_code_unique_per_tenant", condition=~models.Q(code="")
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def ancestor_paths(self) -> list[str]:
        return [self.path[: i * self.steplen] for i in range(1, self.depth + 1)]

    def is_effectively_enabled(self) -> bool:
        """A branch works only if it and every ancestor are enabled."""
        if not self.is_enabled:
            return False
        return not Branch.objects.filter(path__in=self.ancestor_paths, is_enabled=False).exists()

    def label(self) -> str:
        return "\u3000" * (self.depth - 1) + self.name


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    SUPER_ADMIN = "super_admin", _("Super admin")
    PLATFORM_OPERATOR = "platform_operator", _("Platform operator")


ROLE_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.SUPER_ADMIN: 3, Role.PLATFORM_OPERATOR: 4}


class AgentStatus(models.TextChoices):
    ONLINE = "online", _("Online")
    BUSY = "busy", _("Busy")
    AWAY = "away", _("Away")
    INVISIBLE = "invisible", _("Invisible")
    OFFLINE = "offline", _("Offline")


class UserQuerySet(TenantQuerySet):
    def agents(self):
        return self.filter(role__in=[Role.AGENT, Role.SUPERVISOR])


class KefuUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]  # the stubs cannot follow a generic manager's from_queryset
    pass


class User(AbstractUser):
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("tenant"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("branch")
    )
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    # F6b: the supervisor sets the cap, the agent picks max_chats up to it.
    max_chats_cap = models.PositiveSmallIntegerField(
        _("max concurrent chats allowed"), default=5, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    max_chats = models.PositiveSmallIntegerField(
        _("max concurrent chats"), default=5, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    # F6: invisible by default; presence (live connections) is tracked by the dispatch layer.
    status = models.CharField(_("status"), max_length=20, choices=AgentStatus.choices, default=AgentStatus.OFFLINE)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    objects: ClassVar[KefuUserManager] = KefuUserManager()
    subtree_field = "branch"

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [models.Index(fields=["tenant", "role", "status"])]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def is_platform_operator(self) -> bool:
        return self.role == Role.PLATFORM_OPERATOR

    @property
    def is_super_admin(self) -> bool:
        return self.role == Role.SUPER_ADMIN

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def is_manager(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.SUPER_ADMIN, Role.PLATFORM_OPERATOR)

    @property
    def is_agent_role(self) -> bool:
        return self.role in (Role.AGENT, Role.SUPERVISOR)

    @property
    def branch_path(self) -> str:
        return self.branch.path if self.branch is not None else ""

    def can_reach_branch(self, branch: Branch | None) -> bool:
        """Whether a branch lies inside this user's reach (their subtree, or the tenant)."""
        if self.is_platform_operator:
            return True
        if branch is None:
            return self.is_super_admin
        if branch.tenant_id != self.tenant_id:
            return False
        if self.is_super_admin:
            return True
        return bool(self.branch_id) and branch.path.startswith(self.branch_path)


class SkillGroup(TenantOwned):
    """技能组: agents who handle one kind of question, routed to as a unit."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=200, blank=True)
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, null=True, blank=True, related_name="skill_groups", verbose_name=_("branch")
    )
    members = models.ManyToManyField(User, blank=True, related_name="skill_groups", verbose_name=_("members"))
    is_enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    subtree_field = "branch"
    subtree_includes_unassigned = True  # tenant-wide groups are visible to everyone in the tenant

    class Meta:
        verbose_name = _("skill group")
        verbose_name_plural = _("skill groups")
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="skillgroup_name_unique_per_tenant")]

    def __str__(self) -> str:
        return self.name


class AgentStatusLog(TenantOwned):
    """One row per agent status change (who, when, from, to, by whom, why), written with the
    change by services.agent_set_status: the source of logged-in/online/busy/away time in the
    reports (F26/F28) and the back office's status log."""

    agent = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+", verbose_name=_("agent"))
    branch_id_at_time = models.IntegerField(default=0)
    previous = models.CharField(_("from"), max_length=20, blank=True)
    status = models.CharField(_("to"), max_length=20)
    actor = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("by")
    )
    reason = models.CharField(_("reason"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        db_table = "reports_agentstatuslog"  # kept when the model moved here from apps.reports
        ordering = ["agent_id", "created_at", "id"]
        indexes = [models.Index(fields=["tenant", "agent", "created_at"], name="statuslog_agent_idx")]
        verbose_name = _("agent status change")
        verbose_name_plural = _("agent status changes")

    def __str__(self) -> str:
        from apps.core import labels

        return f"{self.agent} {labels.agent_status(self.previous or '-')} → {labels.agent_status(self.status)}"
