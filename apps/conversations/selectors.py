"""Reads of conversations with access checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.conversations import policy
from apps.conversations.models import Conversation, ConversationStatus, ConversationTag, Transfer, TransferStatus

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def conversation_get_for_actor(*, actor, conversation_id: int, level: str = policy.VIEW) -> Conversation:
    return policy.check(actor, conversation_id, level)


def conversations_mine(*, actor) -> QuerySet:
    return (
        policy.conversations_for(actor, policy.VIEW)
        .filter(assignee_id=actor.pk)
        .exclude(status=ConversationStatus.CLOSED)
        .select_related("customer", "sla")
        .order_by("-assigned_at")
    )


def queue_visible_to(*, actor) -> QuerySet:
    """F13: the unified queue (every channel) as the actor may see it, in dispatch order."""
    return (
        policy.conversations_for(actor, policy.VIEW)
        .filter(status=ConversationStatus.QUEUED)
        .select_related("customer", "sla")
        .order_by("-priority", "queued_at", "id")
    )


def transfers_incoming(*, actor) -> QuerySet:
    from django.db.models import Q

    group_ids = list(actor.skill_groups.values_list("pk", flat=True))
    return (
        Transfer.objects.filter(tenant_id=actor.tenant_id, status=TransferStatus.PENDING)
        .filter(Q(to_agent_id=actor.pk) | Q(to_skill_group_id__in=group_ids))
        .exclude(from_agent_id=actor.pk)
        .select_related("conversation")
    )


def tags_for(*, actor) -> QuerySet:
    return ConversationTag.objects.visible_to(actor).filter(is_enabled=True)


def transfer_targets(*, actor, conversation: Conversation) -> dict:
    """Who this conversation can be transferred to, with live status and load: the tenant's
    agents (supervisors only while they are serving), and skill groups with how many members
    can take it now. Those who cannot take it are listed with the reason; a skill group can
    always be chosen as a queue ("transfer to the queue of ...")."""
    from django.db.models import Count, Q

    from apps.accounts.models import AgentStatus, Role, SkillGroup, User
    from apps.conversations.services import ACTIVE_LOAD_STATUSES, SERVING_STATUSES

    people = (
        User.objects.filter(tenant_id=conversation.tenant_id, is_active=True, role__in=[Role.AGENT, Role.SUPERVISOR])
        .exclude(pk=conversation.assignee_id)
        .exclude(Q(role=Role.SUPERVISOR) & ~Q(status__in=SERVING_STATUSES))
        .select_related("branch")
        .annotate(
            load=Count("assigned_conversations", filter=Q(assigned_conversations__status__in=ACTIVE_LOAD_STATUSES))
        )
        .order_by("display_name", "username")[:300]
    )
    status_order = {AgentStatus.ONLINE: 0, AgentStatus.BUSY: 1, AgentStatus.AWAY: 2, AgentStatus.INVISIBLE: 3}
    agents = []
    for u in people:
        free = u.max_chats - u.load
        reason: StrOrPromise
        if u.status not in SERVING_STATUSES:
            reason = _("%(status)s: cannot take conversations now") % {"status": u.get_status_display()}
        elif free <= 0:
            reason = _("No free seat")
        else:
            reason = ""
        agents.append(
            {
                "id": u.pk,
                "name": u.name,
                "branch": u.branch.name if u.branch_id else "",
                "status": u.status,
                "status_label": str(u.get_status_display()),
                "load": u.load,
                "max_chats": u.max_chats,
                "available": not reason,
                "reason": str(reason),
                "skill_group_ids": [],
            }
        )
    by_id = {a["id"]: a for a in agents}
    groups = []
    for g in SkillGroup.objects.visible_to(actor).filter(is_enabled=True).prefetch_related("members").order_by("name"):
        members = [m for m in g.members.all() if m.is_active and m.pk != conversation.assignee_id]
        for m in members:
            if m.pk in by_id:
                by_id[m.pk]["skill_group_ids"].append(g.pk)
        ready = [m for m in members if m.pk in by_id and by_id[m.pk]["available"]]
        groups.append(
            {
                "id": g.pk,
                "name": g.name,
                "members": len(members),
                "available_members": len(ready),
                "free_seats": sum(by_id[m.pk]["max_chats"] - by_id[m.pk]["load"] for m in ready),
            }
        )
    agents.sort(key=lambda a: (not a["available"], status_order.get(a["status"], 9), a["load"] - a["max_chats"]))
    return {"conversation_id": conversation.pk, "agents": agents, "skill_groups": groups}
