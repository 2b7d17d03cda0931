"""Who may see, act on and be told about a conversation: the one access policy.

Every selector, API view, back-office page, consumer frame, export and service asks here;
nothing else spells the rule out. Objects that hang off a conversation (messages, transcripts,
transfers, leave messages, captured facts, assist suggestions, the customer panel, ratings)
are scoped through `conversations_for()`.

Levels
- VIEW: read it (messages, transcript, customer panel, assist, subscribe to its live stream).
- ACT: write into it (send, typing, read marks, close, transfer, tags, waiting).
- MANAGE: supervise it (whisper, intervene, take over, reassign).

Reach
- platform operators: every tenant, every level;
- super admins: their tenant, every level;
- supervisors: conversations of their branch subtree, and those without a branch (a tenant-wide
  channel's queue) at every level; also what they serve themselves (assignee, active
  participant) at VIEW and ACT;
- agents: what they serve now (assignee, or an active participant: invited, mentioned,
  collaborating; a participant who left no longer counts) at VIEW and ACT; the queue they may
  take from (dispatch's rule, `hooks.extra_agent_visibility`) and a transfer addressed to them
  (or their skill group) while it is pending at VIEW; and, read-only, their
  history: closed conversations they served and the closed past of a customer they serve now;
- disabled users, visitors' tokens and anyone without a tenant: nothing.

Anything outside the reach is answered exactly like an id that does not exist (404).

`audience(conversation)` is the live side of the same rule: the staff who may VIEW the
conversation now (history-only grants aside). Publishing computes it at commit time and sends
to each recipient's own group (`apps.messaging.publish.publish_conversation_event`).
"""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from apps.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Participant,
    Transfer,
    TransferStatus,
)
from apps.core.errors import NotFound

VIEW = "view"
ACT = "act"
MANAGE = "manage"
LEVELS = (VIEW, ACT, MANAGE)

_NOTHING = Q(pk__in=[])


def not_found() -> NotFound:
    return NotFound(_("Conversation not found."))


def is_staff_actor(actor) -> bool:
    """A signed-in, enabled staff account (visitor tokens are never staff)."""
    return (
        actor is not None
        and getattr(actor, "is_authenticated", False)
        and getattr(actor, "is_active", False)
        and not getattr(actor, "is_visitor", False)
    )


def _active_participant_q(actor) -> Q:
    """In the conversation now: a participant row that has not left (silent ones included: a
    mentioned colleague, a supervisor watching). A staff onlooker's read mark is a row born left."""
    return Q(
        Exists(
            Participant.objects.filter(conversation_id=OuterRef("pk"), user_id=actor.pk, left_at__isnull=True).values(
                "pk"
            )
        )
    )


def serving_q(actor) -> Q:
    """What the actor serves right now: assigned to them, or an active participant."""
    return Q(assignee_id=actor.pk) | _active_participant_q(actor)


def _transfer_target_q(actor) -> Q:
    """A pending transfer addressed to the actor (or a skill group of theirs): they may look at
    the conversation before accepting it."""
    from apps.accounts.models import SkillGroup

    groups = SkillGroup.members.through.objects.filter(user_id=actor.pk).values("skillgroup_id")
    pending = Transfer.objects.filter(conversation_id=OuterRef("pk"), status=TransferStatus.PENDING).filter(
        Q(to_agent_id=actor.pk) | Q(to_skill_group_id__in=groups)
    )
    return Q(status=ConversationStatus.TRANSFER_PENDING) & Q(
        Exists(pending.exclude(from_agent_id=actor.pk).values("pk"))
    )


def served_q(actor) -> Q:
    """Every conversation the actor served: assigned now, joined (even if they left since), or
    named as the agent of a lifecycle event (so one transferred away still counts)."""
    return (
        Q(assignee_id=actor.pk)
        | Q(Exists(Participant.objects.filter(conversation_id=OuterRef("pk"), user_id=actor.pk).values("pk")))
        | Q(Exists(ConversationEvent.objects.filter(conversation_id=OuterRef("pk"), agent_id=actor.pk).values("pk")))
    )


def _history_q(actor) -> Q:
    """Read-only grants of an agent: closed conversations they served, and the closed past of a
    customer they serve now (the customer panel links it)."""
    from apps.conversations.models import OPEN_STATUSES

    mine_now = Conversation.objects.filter(
        tenant_id=actor.tenant_id, assignee_id=actor.pk, status__in=OPEN_STATUSES
    ).values("customer_id")
    return Q(status=ConversationStatus.CLOSED) & (served_q(actor) | Q(customer_id__in=mine_now))


def _subtree_q(actor) -> Q:
    if not actor.branch_id:
        return _NOTHING
    return Q(branch__path__startswith=actor.branch_path) | Q(branch__isnull=True)


def _queue_q(actor) -> Q:
    from apps.conversations import hooks

    cond = _NOTHING
    for extra in hooks.agent_visibility_qs(actor):
        cond |= extra
    return cond


def reach_q(actor, level: str = VIEW) -> Q:
    """The rule as a condition on Conversation rows, for an actor inside a tenant (supervisor or
    agent; operators and super admins are handled by `conversations_for`)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}")
    if actor.is_manager:
        subtree = _subtree_q(actor)
        if level == MANAGE:
            return subtree
        if level == ACT:
            return subtree | serving_q(actor)
        return subtree | serving_q(actor) | _transfer_target_q(actor)
    if level == MANAGE:
        return _NOTHING
    if level == ACT:
        return serving_q(actor)
    return serving_q(actor) | _transfer_target_q(actor) | _queue_q(actor) | _history_q(actor)


def conversations_for(actor, level: str = VIEW, *, qs: QuerySet | None = None) -> QuerySet:
    """The conversations `actor` may reach at `level`, as a queryset (or narrowing `qs`)."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}")
    qs, final = _within_tenant(Conversation.objects.all() if qs is None else qs, actor)
    if final:
        return qs
    return qs.filter(reach_q(actor, level))


def _within_tenant(qs: QuerySet, actor) -> tuple[QuerySet, bool]:
    """(rows, final): the rows of the actor's tenant, final when nothing narrows them further
    (not staff or no tenant: none; a platform operator: all; a super admin: the whole tenant)."""
    if not is_staff_actor(actor):
        return qs.none(), True
    if actor.is_platform_operator:
        return qs, True
    if not actor.tenant_id:
        return qs.none(), True
    return qs.filter(tenant_id=actor.tenant_id), bool(actor.is_super_admin)


def conversation_ids_for(actor, level: str = VIEW):
    """A subquery of reachable ids, for scoping rows that hang off a conversation."""
    return conversations_for(actor, level).values("pk")


def check(actor, conversation, level: str = VIEW, *, lock: bool = False, qs: QuerySet | None = None) -> Conversation:
    """The conversation (an instance or an id) if `actor` may reach it at `level`, else the same
    404 as a missing id. With lock, the row is read with SELECT ... FOR UPDATE."""
    conversation_id = getattr(conversation, "pk", conversation)
    if isinstance(conversation_id, bool):
        raise not_found()
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        raise not_found() from None
    if not 0 < conversation_id < 2**63:
        raise not_found()
    rows = conversations_for(actor, level, qs=qs)
    if lock:
        rows = rows.select_for_update()
    found = rows.filter(pk=conversation_id).first()
    if found is None:
        raise not_found()
    return found


def allows(actor, conversation, level: str = VIEW) -> bool:
    try:
        check(actor, conversation, level)
    except NotFound:
        return False
    return True


def scope_through_conversation(qs: QuerySet, actor, level: str = VIEW) -> QuerySet:
    """Rows hanging off a conversation, visible when it is. The model names the path in
    `conversation_field` ("conversation"); rows without a conversation (a message left with
    nobody online) may name `orphan_branch_field`: managers see those of their subtree (and of a
    tenant-wide channel), super admins all; agents none."""
    qs, final = _within_tenant(qs, actor)
    if final:
        return qs
    field = getattr(qs.model, "conversation_field", "conversation")
    cond = Q(**{f"{field}__in": conversations_for(actor, level).values("pk")})
    orphan_branch = getattr(qs.model, "orphan_branch_field", None)
    if orphan_branch and actor.is_manager and actor.branch_id:
        cond |= Q(**{f"{field}__isnull": True}) & (
            Q(**{f"{orphan_branch}__path__startswith": actor.branch_path}) | Q(**{f"{orphan_branch}__isnull": True})
        )
    return qs.filter(cond)


# --- who is told: the live audience ------------------------------------------------------------


def audience_q(conversation: Conversation, *, branch_path: str | None) -> Q:
    """Staff users (of the conversation's tenant) who may VIEW it now, as a condition on User.
    History-only grants (closed conversations served earlier) are no one's live audience."""
    from apps.accounts.models import Branch, Role, SkillGroup
    from apps.conversations import hooks

    participants = Participant.objects.filter(
        conversation_id=conversation.pk, left_at__isnull=True, user__isnull=False
    ).values("user_id")
    cond = Q(role=Role.SUPER_ADMIN) | Q(pk__in=participants)
    if conversation.assignee_id:
        cond |= Q(pk=conversation.assignee_id)
    if branch_path is None:
        # No branch (a tenant-wide channel's queue): every supervisor with a branch reaches it.
        cond |= Q(role=Role.SUPERVISOR, branch__isnull=False)
    else:
        steplen = Branch.steplen
        ancestors = [branch_path[:i] for i in range(steplen, len(branch_path) + 1, steplen)]
        cond |= Q(role=Role.SUPERVISOR, branch__path__in=ancestors)
    if conversation.status == ConversationStatus.TRANSFER_PENDING:
        pending = Transfer.objects.filter(conversation_id=conversation.pk, status=TransferStatus.PENDING)
        to_agents = pending.filter(to_agent__isnull=False).exclude(to_agent_id=F("from_agent_id"))
        cond |= Q(pk__in=to_agents.values("to_agent_id"))
        groups = pending.filter(to_skill_group__isnull=False).values("to_skill_group_id")
        members = SkillGroup.members.through.objects.filter(skillgroup_id__in=groups)
        cond |= Q(pk__in=members.values("user_id")) & ~Q(pk__in=pending.values("from_agent_id"))
    for extra in hooks.agent_audience_qs(conversation):
        cond |= Q(role=Role.AGENT) & extra
    return cond


AUDIENCE_FIELDS = (
    "pk",
    "tenant_id",
    "status",
    "assignee_id",
    "branch_id",
    "reach_path",
    "skill_group_id",
    "route_agents",
    "excluded_agents",
)


def audience(conversation) -> list[int]:
    """The ids of the staff who may VIEW the conversation (an instance or an id) now: whoever
    should receive its events. Two queries: the conversation's committed row with its branch's
    path, then the users. Publishing calls it at commit time."""
    from apps.accounts.models import User

    conversation_id = getattr(conversation, "pk", conversation)
    row = (
        Conversation.objects.filter(pk=conversation_id)
        .select_related("branch")
        .only(*(f for f in AUDIENCE_FIELDS if f != "pk"), "branch__path")
        .first()
    )
    if row is None:
        return []
    branch = row.branch if row.branch_id else None
    branch_path = branch.path if branch is not None else None
    return list(
        User.objects.filter(tenant_id=row.tenant_id, is_active=True)
        .filter(audience_q(row, branch_path=branch_path))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
