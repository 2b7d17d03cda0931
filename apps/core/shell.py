"""The staff page shell: which sections a person may go to, and which one they are in.

One place decides the role navigation (workbench / supervisor centre / management centre) shown
by every staff page (templates/base.html and the back office's admin/base_site.html), and where
each role lands after login.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Section:
    key: str
    label: str | Promise
    url: str
    prefix: str


def sections_for(user) -> list[Section]:
    """The sections of the product this person's role opens, in menu order."""
    if not getattr(user, "is_authenticated", False):
        return []
    out = []
    if user.tenant_id and user.is_agent_role:
        out.append(Section("workbench", _("Workbench"), reverse("workbench"), "/workbench/"))
    if user.is_manager:
        if user.tenant_id:
            out.append(Section("supervisor", _("Supervisor centre"), reverse("reports:home"), "/supervisor/"))
        out.append(Section("manage", _("Management centre"), reverse("manage:index"), "/manage/"))
    return out


def landing_url(user) -> str:
    """Where a person lands after login: supervisors and admins in the supervisor centre (the
    live overview of their subtree), agents in the workbench, platform operators in the back office."""
    sections = {s.key: s for s in sections_for(user)}
    for key in ("supervisor", "workbench", "manage"):
        if key in sections:
            return sections[key].url
    return reverse("home")


def shell(request: HttpRequest) -> dict:
    """Context processor: the sections of the header and the one this page belongs to."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    sections = sections_for(user)
    path = request.path
    current = next((s.key for s in sections if path.startswith(s.prefix)), "")
    from apps.accounts.models import AgentStatus

    return {
        "shell_sections": sections,
        "shell_current": current,
        "shell_can_serve": bool(user.tenant_id and user.is_agent_role),
        "shell_statuses": [(v, label) for v, label in AgentStatus.choices if v != AgentStatus.OFFLINE],
    }
