"""Per-tenant retention: old content deleted or anonymised in batches, safe to run twice,
the search index kept in step, other tenants and recent conversations untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.conversations.models import Conversation
from apps.messaging.models import Attachment, Message
from apps.privacy import services
from apps.privacy.models import ErasedConversation
from apps.reports.models import ExportJob
from apps.search.db import DatabaseBackend
from apps.search.models import SearchTerm
from tests.privacy.conftest import png_bytes
from tests.reports.conftest import History

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def _served(history, *, days_ago, body):
    conv = history.served(at=NOW - timedelta(days=days_ago), agent=history.org.agent_sh)
    history.message(conv, at=NOW - timedelta(days=days_ago, seconds=-5), body=body)
    return conv


@pytest.fixture
def world(org_a, org_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    a, b = History(org_a), History(org_b)
    old = [_served(a, days_ago=40 + i, body=f"旧的运单 OLD{i} 在哪里") for i in range(5)]
    recent = _served(a, days_ago=10, body="新的运单 NEW1 在哪里")
    other_tenant = _served(b, days_ago=400, body="别家的旧运单 OTHER1")
    from django.core.files.base import ContentFile

    with time_machine.travel(NOW - timedelta(days=45), tick=False):
        att = Attachment(
            tenant=org_a.tenant, conversation=recent, mime_type="image/png", size=10, original_name="a.png"
        )
        att.file.save("a.png", ContentFile(png_bytes()), save=True)
        job = ExportJob.objects.create(tenant=org_a.tenant, requested_by=org_a.admin, status="done")
        job.file.save("e.csv", ContentFile(b"x"), save=True)
    return {"old": old, "recent": recent, "other": other_tenant, "attachment": att, "export": job, "org": org_a}


def _search(tenant_id, text):
    return DatabaseBackend().search_conversation_ids(
        tenant_id=tenant_id, text=text, start=NOW - timedelta(days=1000), end=NOW + timedelta(days=1)
    )


def test_retention_anonymises_old_conversations_in_batches_and_twice_is_harmless(world):
    org = world["org"]
    services.retention_policy_update(
        actor=org.admin, tenant_id=org.tenant.pk, messages_days=30, attachments_days=30, exports_days=7
    )
    messages_before = Message.objects.count()
    assert _search(org.tenant.pk, "OLD3") == [world["old"][3].pk]

    first = services.retention_run(now=NOW, batch=2)  # 5 old conversations: three batches of 2, 2, 1
    assert first["conversations"] == 5 and first["attachments"] == 1 and first["exports"] == 1
    second = services.retention_run(now=NOW, batch=2)
    assert not any(second.values())

    for conv in world["old"]:
        assert set(Message.objects.filter(conversation=conv).values_list("body", flat=True)) == {""}
        assert not SearchTerm.objects.filter(conversation=conv).exists()
    assert _search(org.tenant.pk, "OLD3") == []
    assert Message.objects.count() == messages_before  # anonymised: the rows stay for the figures
    assert Message.objects.filter(conversation=world["recent"], body__contains="NEW1").exists()
    assert _search(org.tenant.pk, "NEW1") == [world["recent"].pk]
    # The other tenant keeps its policy (none): a 400-day-old conversation is untouched.
    assert Message.objects.filter(conversation=world["other"], body__contains="OTHER1").exists()
    att = Attachment.objects.get(pk=world["attachment"].pk)
    assert not att.file and not world["attachment"].file.storage.exists(world["attachment"].file.name)
    assert not ExportJob.objects.filter(pk=world["export"].pk).exists()


def test_retention_can_delete_messages_and_stops_at_its_time_budget(world):
    org = world["org"]
    services.retention_policy_update(actor=org.admin, tenant_id=org.tenant.pk, messages_days=30, messages_mode="delete")
    assert services.retention_run(now=NOW, budget_seconds=0)["conversations"] == 0  # nothing done past the budget
    assert services.retention_run(now=NOW)["conversations"] == 5
    assert not Message.objects.filter(conversation__in=world["old"]).exists()
    assert Conversation.objects.filter(pk__in=[c.pk for c in world["old"]]).count() == 5  # counted in reports
    assert ErasedConversation.objects.filter(messages_deleted=True).count() == 5


def test_retention_settings_are_validated_audited_and_admin_only(org_a, api_client):
    api_client.force_authenticate(org_a.admin)
    assert api_client.get("/api/v1/privacy/retention/").json()["messages_days"] == 0
    bad = api_client.put("/api/v1/privacy/retention/", {"messages_days": -1, "exports_days": 3}, format="json")
    assert bad.status_code == 400
    assert api_client.get("/api/v1/privacy/retention/").json()["exports_days"] == 30  # nothing changed
    ok = api_client.put("/api/v1/privacy/retention/", {"messages_days": 180, "messages_mode": "delete"}, format="json")
    assert ok.status_code == 200 and ok.json()["messages_days"] == 180
    from apps.core.models import AuditEntry

    entry = AuditEntry.objects.get(action="privacy.retention_update")
    assert entry.changes["messages_days"] == [0, 180]
    api_client.force_authenticate(org_a.sup_east)
    assert api_client.put("/api/v1/privacy/retention/", {"messages_days": 1}, format="json").status_code == 403
