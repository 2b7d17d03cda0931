"""F6: an agent who logs in starts invisible (present, but given no conversations) until they
choose a status; the one write is the accounts service."""

from __future__ import annotations

from apps.accounts.models import AgentStatus


def agent_logged_in(sender, request, user, **kwargs) -> None:
    if not getattr(user, "is_agent_role", False) or not user.tenant_id:
        return
    if user.status == AgentStatus.OFFLINE:
        from apps.accounts.services import agent_set_status

        agent_set_status(agent=user, status=AgentStatus.INVISIBLE, actor=user, reason="login")
