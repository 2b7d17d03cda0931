"""Reads of quick replies, scoped to the acting agent (their own and their branches' team sets)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound
from apps.quickreplies.models import QuickReply


def _ancestor_paths(user) -> list[str]:
    branch = user.branch
    return branch.ancestor_paths if branch is not None else []


def quick_reply_list_for_agent(*, actor, query: str = "", scope: str = "") -> QuerySet[QuickReply]:
    """The agent's own replies plus the team sets of their branch and every branch above it."""
    if not actor.tenant_id:
        return QuickReply.objects.none()
    team = Q(owner__isnull=True) & (Q(branch__isnull=True) | Q(branch__path__in=_ancestor_paths(actor)))
    mine = Q(owner=actor)
    cond = mine if scope == "personal" else team if scope == "team" else mine | team
    qs = QuickReply.objects.filter(tenant_id=actor.tenant_id).filter(cond)
    query = (query or "").strip()
    if query:
        qs = qs.filter(
            Q(shortcut__istartswith=query)
            | Q(title__icontains=query)
            | Q(content__icontains=query)
            | Q(category__icontains=query)
        )
    return qs.select_related("branch").order_by("owner_id", "sort_order", "-use_count", "id")


def quick_reply_get_for_actor(*, actor, quick_reply_id: int) -> QuickReply:
    reply = quick_reply_list_for_agent(actor=actor).filter(pk=quick_reply_id).first()
    if reply is None and actor.is_manager:
        # Managers also reach team sets of their subtree that are not above them.
        reply = QuickReply.objects.visible_to(actor).filter(pk=quick_reply_id, owner__isnull=True).first()
    if reply is None:
        raise NotFound()
    return reply
