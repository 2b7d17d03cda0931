"""Who hears of a breach: the conversation's agent and the supervisors of its branch (and the
super admins), on their own staff sockets, after the breach row commits."""

from __future__ import annotations

from apps.messaging.groups import agent_group
from apps.messaging.publish import publish


def breach_to_dict(breach) -> dict:
    return {
        "id": breach.pk,
        "conversation_id": breach.conversation_id,
        "kind": breach.kind,
        "due_at": breach.due_at.isoformat(),
        "breached_at": breach.breached_at.isoformat(),
        "agent_id": breach.agent_id,
        "branch_id": breach.branch_id,
    }


def breach_recipients(*, tenant_id: int, branch_id: int | None, agent_id: int | None) -> list[int]:
    from apps.knowledge.alerts import alert_recipients

    ids = alert_recipients(tenant_id=tenant_id, branch_id=branch_id)
    if agent_id and agent_id not in ids:
        ids.append(agent_id)
    return ids


def breach_recorded(*, breach, conversation) -> None:
    users = breach_recipients(tenant_id=breach.tenant_id, branch_id=breach.branch_id, agent_id=breach.agent_id)
    if users:
        publish(
            [agent_group(breach.tenant_id, uid) for uid in users],
            {"type": "sla.breached", "conversation_id": conversation.pk, "breach": breach_to_dict(breach)},
        )
