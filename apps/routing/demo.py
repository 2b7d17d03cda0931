"""Demo data for dispatch: conversation tags, settings and one keyword rule (no working hours,
so the demo answers at any time)."""

from __future__ import annotations

from apps.accounts.models import SkillGroup
from apps.conversations.models import ConversationTag
from apps.core import demo
from apps.routing.models import DispatchSettings, RoutingRule

TAGS = [("物流查询", "#1f6feb"), ("投诉建议", "#d73a49"), ("价格咨询", "#2da44e"), ("其他", "#6e7781")]


@demo.register
def seed_dispatch(*, tenant, branches) -> None:
    for order, (name, color) in enumerate(TAGS):
        ConversationTag.objects.get_or_create(tenant=tenant, name=name, defaults={"color": color, "sort_order": order})
    DispatchSettings.objects.get_or_create(tenant=tenant)
    # Complaints go to the complaints group, first in line.
    group = SkillGroup.objects.filter(tenant=tenant, name="投诉处理").first()
    if group is not None:
        RoutingRule.objects.update_or_create(
            tenant=tenant,
            name="投诉转技能组",
            defaults={"keywords": "投诉,complaint", "target_skill_group": group, "order": 10, "priority": 1},
        )
