from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.tenancy import TenantOwned


class QuickReply(TenantOwned):
    """F12: a canned answer. Personal (owner set) or a team set (owner empty) that a supervisor
    keeps for a branch and everything under it (branch empty = the whole tenant)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quick_replies",
        verbose_name=_("owner"),
    )
    branch = models.ForeignKey(
        "accounts.Branch",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="quick_replies",
        verbose_name=_("branch"),
    )
    category = models.CharField(_("category"), max_length=50, blank=True)
    title = models.CharField(_("title"), max_length=100)
    content = models.TextField(_("content"), max_length=2000)
    shortcut = models.CharField(_("shortcut"), max_length=30, blank=True)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    use_count = models.PositiveIntegerField(_("times used"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The back office sees team sets of the supervisor's subtree (and tenant-wide ones).
    subtree_field = "branch"
    subtree_includes_unassigned = True

    class Meta:
        verbose_name = _("quick reply")
        verbose_name_plural = _("quick replies")
        ordering = ["sort_order", "-use_count", "id"]
        indexes = [models.Index(fields=["tenant", "owner"], name="quickreply_owner_idx")]
        db_table = "workbench_quickreply"  # moved from apps.workbench with its rows

    def __str__(self) -> str:
        return self.title

    @property
    def is_team(self) -> bool:
        return self.owner_id is None


class TeamQuickReply(QuickReply):
    """The back office's view of team sets (owner empty)."""

    class Meta:
        proxy = True
        verbose_name = _("team quick reply")
        verbose_name_plural = _("team quick replies")
