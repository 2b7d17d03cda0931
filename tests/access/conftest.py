"""A world for the access matrix: one conversation of Shanghai served by an agent who took it
over from a colleague, a queued one, a sibling branch with its own, and a second tenant.

Everyone the issue names is here: the assignee, a same-branch colleague, an agent of a sibling
branch, the supervisor of the subtree, a sibling supervisor, the super admin, another tenant's
admin, a disabled supervisor (who would otherwise reach it) and the agent it was transferred from.
"""

from __future__ import annotations

import itertools

import pytest

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus, Role
from apps.channels.models import Channel
from apps.conversations import services as conversation_services
from apps.conversations.models import ConversationStatus
from apps.customers.models import Customer
from apps.routing.intake import conversation_intake
from apps.routing.models import LeaveMessage
from tests.conftest import Org

_n = itertools.count()

# Who may VIEW the served conversation (written out by hand, not asked of the policy).
IN_REACH = {"assignee", "sup_east", "admin"}
OUT_OF_REACH = {"colleague", "agent_south", "sup_south", "other_admin", "disabled_sup", "former"}
ACTORS = sorted(IN_REACH | OUT_OF_REACH)


class World:
    def __init__(self, a: Org, b: Org):
        self.a, self.b = a, b
        self.channel = Channel.objects.create(tenant=a.tenant, name=f"sh web {next(_n)}", branch=a.sh)
        self.south_channel = Channel.objects.create(tenant=a.tenant, name=f"south web {next(_n)}", branch=a.south)
        self.former = self._agent(a.sh, "former")
        self.served = self._start(self.channel)
        assert self.served.assignee_id == self.former.pk
        self.assignee = self._agent(a.sh, "assignee", status=AgentStatus.BUSY)
        transfer = conversation_services.conversation_transfer_request(
            conversation_id=self.served.pk, actor=self.former, to_agent_id=self.assignee.pk
        )
        conversation_services.conversation_transfer_accept(transfer_id=transfer.pk, actor=self.assignee)
        self.served.refresh_from_db()
        assert self.served.assignee_id == self.assignee.pk
        account_services.agent_set_status(agent=self.former, status=AgentStatus.OFFLINE)
        self.colleague = self._agent(a.sh, "colleague", online=False)
        self.disabled_sup = a.user("disabled_sup", Role.SUPERVISOR, a.east)
        account_services.user_set_active(user=self.disabled_sup, active=False, actor=a.admin)
        self.disabled_sup.refresh_from_db()
        # The South branch's own conversation (a sibling's business) and its left message.
        self.south_agent = self._agent(a.south, "south_server")
        self.south = self._start(self.south_channel)
        assert self.south.assignee_id == self.south_agent.pk
        # Busy: they keep what they serve, and dispatch gives them nothing new.
        account_services.agent_set_status(agent=self.south_agent, status=AgentStatus.BUSY)
        self.south_leave = LeaveMessage.objects.create(
            tenant=a.tenant, channel=self.south_channel, name="南方客户", contact="13800000000", content="call me"
        )
        self.sh_leave = LeaveMessage.objects.create(
            tenant=a.tenant, channel=self.channel, name="上海客户", contact="13900000000", content="call me"
        )
        self.other_channel = Channel.objects.create(tenant=b.tenant, name=f"b web {next(_n)}", branch=b.sh)
        self.actors = {
            "assignee": self.assignee,
            "colleague": self.colleague,
            "agent_south": a.agent_south,
            "sup_east": a.sup_east,
            "sup_south": a.sup_south,
            "admin": a.admin,
            "other_admin": b.admin,
            "disabled_sup": self.disabled_sup,
            "former": self.former,
        }

    def _agent(self, branch, name, *, online=True, status=None):
        user = self.a.user(f"{name}{next(_n)}", Role.AGENT, branch)
        if online or status:
            account_services.agent_set_status(agent=user, status=status or AgentStatus.ONLINE)
        return user

    def _start(self, channel, *, served: bool = True):
        customer = Customer.objects.create(tenant=channel.tenant, display_name=f"客户{next(_n)}", phone="13700000000")
        conversation = conversation_intake(channel=channel, customer=customer)
        conversation.refresh_from_db()
        if served:
            assert conversation.status == ConversationStatus.ACTIVE
        return conversation


@pytest.fixture
def world(org_a, org_b):
    from apps.routing.selectors import dispatch_settings_forget

    dispatch_settings_forget()
    yield World(org_a, org_b)
    dispatch_settings_forget()
