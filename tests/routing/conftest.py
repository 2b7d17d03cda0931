"""Dispatch fixtures: channels, visitors and agents who are online with a given limit."""

from __future__ import annotations

import itertools

import pytest

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus, Role
from apps.channels.models import Channel
from apps.customers.models import Customer
from apps.routing.intake import conversation_intake

_n = itertools.count()


class Dispatch:
    def __init__(self, org):
        self.org = org
        self.channel = self.make_channel(org.sh)

    def make_channel(self, branch, **kw) -> Channel:
        return Channel.objects.create(tenant=self.org.tenant, name=f"web {next(_n)}", branch=branch, **kw)

    def visitor(self, **kw) -> Customer:
        return Customer.objects.create(tenant=self.org.tenant, display_name=f"v{next(_n)}", **kw)

    def agent(self, branch, cap: int = 5, online: bool = True, role=Role.AGENT, status: str | None = None):
        """online=True: dispatch gives them work; status="busy": serving (transfers reach them)
        but dispatch leaves them alone."""
        user = self.org.user(f"ag{next(_n)}", role, branch, cap=cap)
        if status or online:
            account_services.agent_set_status(agent=user, status=status or AgentStatus.ONLINE)
        return user

    def online(self, user, cap: int | None = None):
        if cap is not None:
            user.max_chats = cap
            user.save(update_fields=["max_chats"])
        return account_services.agent_set_status(agent=user, status=AgentStatus.ONLINE)

    def settings(self, **kw):
        from apps.routing.models import DispatchSettings
        from apps.routing.selectors import dispatch_settings_forget

        DispatchSettings.objects.update_or_create(tenant=self.org.tenant, defaults=kw)
        dispatch_settings_forget()

    def start(self, channel=None, customer=None, **kw):
        conversation = conversation_intake(channel=channel or self.channel, customer=customer or self.visitor(), **kw)
        conversation.refresh_from_db()
        return conversation


@pytest.fixture
def dispatch(org_a):
    return Dispatch(org_a)


@pytest.fixture(autouse=True)
def _forget_dispatch_settings():
    from apps.routing.selectors import dispatch_settings_forget

    dispatch_settings_forget()
    yield
    dispatch_settings_forget()
