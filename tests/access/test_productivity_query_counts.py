"""The issue-19 endpoints cost a constant number of queries: the SLA policies and breaches, the
follow-up list, a conversation's recalled originals and the mentions inbox read the same number
of statements for one row as for four (no query per row)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.messaging import recall
from apps.messaging.models import Mention
from apps.messaging.services import message_create
from apps.reports import services as report_services
from apps.sla.models import SlaBreach, SlaPolicy
from tests.messaging.conftest import IM, im_a  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db]


def _count(api_client, user, url: str) -> int:
    api_client.force_authenticate(user)
    with CaptureQueriesContext(connection) as ctx:
        response = api_client.get(url)
    assert response.status_code == 200, (url, response.content[:200])
    return len(ctx.captured_queries)


def _rows(im, org, n: int, conversations: list) -> None:
    """n more of each kind of row, each on a conversation of its own."""
    now = timezone.now()
    for _ in range(n):
        conv, _c, _t = im.conversation()
        conversations.append(conv)
        message_create(conversation_id=conv.pk, sender_kind="visitor", body="在吗", client_msg_id="v")
        note = message_create(
            conversation_id=conv.pk,
            sender_kind="agent",
            sender_user=org.agent_sh,
            body=f"@{org.agent_pd.username} 请看",
            visibility="staff",
        )
        Mention.objects.create(
            tenant=org.tenant, message=note, conversation=conv, user=org.agent_pd, author=org.agent_sh
        )
        said = message_create(
            conversation_id=conv.pk, sender_kind="agent", sender_user=org.agent_sh, body="发错了", client_msg_id="r"
        )
        recall.message_recall(actor=org.agent_sh, conversation=conv, message_id=said.pk)
        report_services.followup_create(
            actor=org.agent_sh, conversation_id=conv.pk, due_at=now + dt.timedelta(days=1), note="回访"
        )
        SlaBreach.objects.create(
            tenant=org.tenant,
            conversation=conv,
            kind="first_response",
            due_at=now,
            breached_at=now,
            agent=org.agent_sh,
            branch=org.sh,
        )
        SlaPolicy.objects.create(tenant=org.tenant, name=f"策略{len(conversations)}", first_response_seconds=60)


def test_the_productivity_endpoints_do_not_query_per_row(im_a, org_a, api_client):  # noqa: F811
    conversations: list = []
    _rows(im_a, org_a, 1, conversations)

    def counts() -> dict[str, int]:
        return {
            "policies": _count(api_client, org_a.admin, "/api/v1/sla/policies/"),
            "breaches": _count(api_client, org_a.sup_east, "/api/v1/sla/breaches/"),
            "followups": _count(api_client, org_a.agent_sh, "/api/v1/followups/"),
            "mentions": _count(api_client, org_a.agent_pd, "/api/v1/im/mentions/"),
            # the recalls of one conversation: several recalled messages in it
            "recalls": _count(api_client, org_a.sup_east, f"/api/v1/im/conversations/{conversations[0].pk}/recalls/"),
        }

    before = counts()
    _rows(im_a, org_a, 3, conversations)
    first = conversations[0]
    for i in range(3):
        said = message_create(
            conversation_id=first.pk,
            sender_kind="agent",
            sender_user=org_a.agent_sh,
            body=f"又错{i}",
            client_msg_id=f"x{i}",
        )
        recall.message_recall(actor=org_a.agent_sh, conversation=first, message_id=said.pk)
    after = counts()
    assert after == before
    assert max(before.values()) <= 6, before
