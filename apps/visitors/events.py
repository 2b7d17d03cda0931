"""What watchers are told about browsing visitors (declared in apps/messaging/events.py).

`visitor.page` (a visitor opened a page) and `visitor.left` go to
- the subscribers of the customer's open conversations on that channel: the agent's customer
  panel follows the visitor ("正在浏览 …");
- the watchers of the channel's live visitor list, a group staff join only after the channel
  passed their visibility check (apps.visitors.selectors.watchable_channel_ids).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.visitors.models import Visit


def visit_to_dict(visit: Visit, *, now=None) -> dict:
    from apps.visitors.services import ONLINE_SECONDS

    now = now or timezone.now()
    online = visit.left_at is None and now - visit.last_seen_at < timedelta(seconds=ONLINE_SECONDS)
    return {
        "id": visit.pk,
        "channel_id": visit.channel_id,
        "customer_id": visit.customer_id,
        "number": visit.number,
        "url": visit.current_url,
        "title": visit.current_title,
        "pages": visit.pages,
        "landing_url": visit.landing_url,
        "referrer": visit.referrer,
        "device": visit.device,
        "os": visit.os,
        "browser": visit.browser,
        "language": visit.language,
        "region": visit.region,
        "started_at": visit.created_at.isoformat() if visit.created_at else None,
        "last_seen_at": visit.last_seen_at.isoformat(),
        "online": online,
    }


def visitors_group(tenant_id: int, channel_id: int) -> str:
    return f"t{tenant_id}.visitors.{channel_id}"


def publish_visit(visit: Visit, *, etype: str) -> None:
    from apps.conversations.models import OPEN_STATUSES, Conversation
    from apps.messaging import groups
    from apps.messaging.publish import publish

    targets = [visitors_group(visit.tenant_id, visit.channel_id)]
    if visit.customer_id:
        conversation_ids = Conversation.objects.filter(
            tenant_id=visit.tenant_id,
            channel_id=visit.channel_id,
            customer_id=visit.customer_id,
            status__in=OPEN_STATUSES,
        ).values_list("pk", flat=True)
        targets += [groups.conversation_group(visit.tenant_id, cid) for cid in conversation_ids]
    publish(targets, {"type": etype, "visit": visit_to_dict(visit)})
