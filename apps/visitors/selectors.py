"""Reads about browsing visitors, scoped like everything else.

Who may watch a channel's visitors is the channel's own visibility (the tenancy scope every
back-office list uses: a branch's channels for its subtree's staff, the company's channels for
everyone in it); what a watcher learns about a conversation goes through the conversation's
access check.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from apps.channels.models import Channel, ChannelKind
from apps.visitors.events import visit_to_dict
from apps.visitors.models import PageView, Visit

TRAIL_VISITS = 5  # visits shown in a customer's panel
TRAIL_PAGES = 50  # pages shown per visit
LIVE_LIMIT = 500


def watchable_channels(*, actor):
    """Web channels whose visitors the actor may watch."""
    return Channel.objects.visible_to(actor).filter(kind=ChannelKind.WEB, is_enabled=True)


def watchable_channel_ids(*, actor) -> list[int]:
    return list(watchable_channels(actor=actor).values_list("pk", flat=True))


def _online_q(now) -> Q:
    from apps.visitors.services import ONLINE_SECONDS

    return Q(left_at__isnull=True, last_seen_at__gte=now - timedelta(seconds=ONLINE_SECONDS))


def _live_channels(*, actor, channel_id: int | None, branch_id: int | None) -> list:
    from apps.accounts.models import Branch

    channels = watchable_channels(actor=actor).select_related("branch")
    if channel_id is not None:
        channels = channels.filter(pk=channel_id)
    if branch_id is not None:
        branch = Branch.objects.filter(pk=branch_id, tenant_id=actor.tenant_id).first()
        channels = channels.filter(branch__path__startswith=branch.path) if branch else channels.none()
    return list(channels.order_by("name"))


def _chatting(*, actor, channels: list, visits: list) -> tuple[dict, set[int]]:
    """The open conversations of these visitors by (channel, customer), and which of them the
    actor may open."""
    from apps.conversations.models import OPEN_STATUSES, Conversation

    customers = {v.customer_id for v in visits if v.customer_id}
    if not customers:
        return {}, set()
    chatting = {
        (conv["channel_id"], conv["customer_id"]): conv
        for conv in Conversation.objects.filter(
            channel__in=channels, customer_id__in=customers, status__in=OPEN_STATUSES
        ).values("pk", "channel_id", "customer_id", "status")
    }
    ids = [c["pk"] for c in chatting.values()]
    return chatting, set(Conversation.objects.visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))


def _invited_visit_ids(visits: list, now) -> set[int]:
    from apps.visitors.invitations import INVITATION_TTL, OPEN_STATUSES
    from apps.visitors.models import Invitation

    return set(
        Invitation.objects.filter(
            visit__in=[v.pk for v in visits], status__in=OPEN_STATUSES, created_at__gte=now - INVITATION_TTL
        ).values_list("visit_id", flat=True)
    )


def live_visitors(*, actor, channel_id: int | None = None, branch_id: int | None = None, now=None) -> dict:
    """Visitors on the actor's sites now: per channel, how many, on which page, chatting or not."""
    now = now or timezone.now()
    channels = _live_channels(actor=actor, channel_id=channel_id, branch_id=branch_id)
    visits = list(
        Visit.objects.filter(channel__in=channels).filter(_online_q(now)).order_by("-last_seen_at")[:LIVE_LIMIT]
    )
    chatting, seen = _chatting(actor=actor, channels=channels, visits=visits)
    invited = _invited_visit_ids(visits, now)
    rows = []
    for visit in visits:
        row = visit_to_dict(visit, now=now)
        row["invited"] = visit.pk in invited
        conv = chatting.get((visit.channel_id, visit.customer_id)) if visit.customer_id else None
        row["chatting"] = conv is not None
        # The conversation itself only for those who may open it.
        row["conversation_id"] = conv["pk"] if conv is not None and conv["pk"] in seen else None
        rows.append(row)
    return {"channels": [_channel_summary(c, rows) for c in channels], "visitors": rows}


def _channel_summary(channel, rows: list[dict]) -> dict:
    mine = [r for r in rows if r["channel_id"] == channel.pk]
    return {
        "id": channel.pk,
        "name": channel.name,
        "branch": channel.branch.name if channel.branch_id else "",
        "visitors": len(mine),
        "chatting": sum(1 for r in mine if r["chatting"]),
    }


def visitor_context(*, actor, conversation_id: int, now=None) -> dict:
    """The customer's browsing for one conversation's panel: the visit in progress (live) and the
    trail of recent visits on that channel."""
    from apps.workbench.selectors import conversation_get_for_agent

    now = now or timezone.now()
    conversation = conversation_get_for_agent(actor=actor, conversation_id=conversation_id, allow_queue=True)
    visits = list(
        Visit.objects.filter(
            tenant_id=conversation.tenant_id, channel_id=conversation.channel_id, customer_id=conversation.customer_id
        ).order_by("-created_at")[:TRAIL_VISITS]
    )
    pages: dict[int, list] = {v.pk: [] for v in visits}
    for page in PageView.objects.filter(visit_id__in=list(pages)).order_by("visit_id", "id"):
        if len(pages[page.visit_id]) < TRAIL_PAGES:
            pages[page.visit_id].append(
                {
                    "url": page.url,
                    "title": page.title,
                    "at": page.created_at.isoformat(),
                    "seconds": page.seconds,
                }
            )
    trail = [{**visit_to_dict(v, now=now), "page_views": pages[v.pk]} for v in visits]
    current = trail[0] if trail and trail[0]["online"] else None
    return {"conversation_id": conversation.pk, "current": current, "visits": trail}


def invitation_report(*, actor, start, end) -> dict:
    """Invitations sent in [start, end), per rule (or "by an agent") and branch: how many were
    sent, shown, accepted, and converted (the conversation they started was served by an agent)."""
    from django.db.models import Count, Q

    from apps.visitors.models import Invitation, InvitationStatus

    rows = (
        Invitation.objects.visible_to(actor)
        .filter(created_at__gte=start, created_at__lt=end)
        .values("rule_id", "rule__name", "branch_id", "branch__name")
        .annotate(
            sent=Count("id"),
            shown=Count("id", filter=Q(shown_at__isnull=False)),
            accepted=Count("id", filter=Q(status=InvitationStatus.ACCEPTED)),
            converted=Count("id", filter=Q(status=InvitationStatus.ACCEPTED, conversation__assigned_at__isnull=False)),
        )
        .order_by("rule__name", "branch__name")
    )
    result = [
        {
            "rule_id": r["rule_id"],
            "rule": r["rule__name"] or "",
            "branch_id": r["branch_id"],
            "branch": r["branch__name"] or "",
            "sent": r["sent"],
            "shown": r["shown"],
            "accepted": r["accepted"],
            "converted": r["converted"],
        }
        for r in rows
    ]
    totals = {k: sum(r[k] for r in result) for k in ("sent", "shown", "accepted", "converted")}
    return {"from": start.isoformat(), "to": end.isoformat(), "rows": result, "totals": totals}
