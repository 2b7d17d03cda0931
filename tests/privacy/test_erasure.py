"""PIPL requests: erasure leaves no trace of the customer anywhere; access exports everything."""

from __future__ import annotations

import json
import zipfile

import pytest
from django.core.management import call_command

from apps.conversations.models import Conversation, ConversationEvent
from apps.core.services import audit_record
from apps.messaging.models import Message
from apps.privacy import services
from apps.privacy.models import PersonalDataRequest
from apps.reports.exports import export_create, export_run
from apps.search.db import index_message
from apps.search.models import SearchTerm
from apps.search.selectors import get_backend
from apps.search.terms import text_terms
from tests.privacy.conftest import ADDRESS, NAME, NEEDLES, PHONE, WAYBILL, tables_containing
from tests.reports.fake_es import FakeElasticsearch

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_es(settings):
    server = FakeElasticsearch().start()
    settings.ELASTICSEARCH_URL = server.url
    yield server
    server.stop()


def test_erasure_leaves_nothing_in_any_table_nor_in_the_search_indexes(
    footprint, org_a, fake_es, django_capture_on_commit_callbacks
):
    org = org_a
    # Another customer of the same tenant, who must keep everything.
    other = Conversation.objects.create(tenant=org.tenant, channel=footprint.channel, customer=_customer(org, "李四"))
    kept = Message.objects.create(
        tenant=org.tenant, conversation=other, seq=1, sender_kind="visitor", body="李四的订单到了吗"
    )
    index_message(conversation=other, message=kept)
    # Copies that people make: an export naming the customer, the audit log, a view of the panel.
    job = export_create(actor=org.admin, filters={"customer": NAME})
    export_run(job_id=job.pk)
    job.refresh_from_db()
    export_path = job.file.path
    audit_record(actor=org.admin, action="customer.update", obj=footprint.customer, changes={"phone": PHONE})
    services.customer_view_record(actor=org.agent_sh, customer_id=footprint.customer.pk, where="workbench")
    call_command("reindex_messages")  # the Elasticsearch index holds the messages too
    assert any(NAME in (d.get("body") or "") for d in next(iter(fake_es.docs.values())).values())
    assert tables_containing(NEEDLES), "the footprint must put the customer's words in the tables"
    counts_before = (Conversation.objects.count(), ConversationEvent.objects.count(), Message.objects.count())

    with django_capture_on_commit_callbacks(execute=True):
        request = services.privacy_request_create(actor=org.admin, customer_id=footprint.customer.pk, kind="erasure")
    request.refresh_from_db()
    assert request.status == "done", request.error

    assert tables_containing(NEEDLES) == []
    # Elasticsearch: no document of the customer's conversation, the other customer's still there.
    docs = next(iter(fake_es.docs.values()))
    assert not any(any(n in (d.get("body") or "") for n in NEEDLES) for d in docs.values())
    assert any("李四" in (d.get("body") or "") for d in docs.values())
    # The database index: none of the customer's terms, and search finds nothing.
    terms = {t for n in (NAME, ADDRESS, WAYBILL) for t in text_terms(n)}
    assert not SearchTerm.objects.filter(conversation=footprint.conv, term__in=terms).exists()
    assert SearchTerm.objects.filter(conversation=other).exists()
    # Files: the attachment and the export are gone from the disk.
    assert not footprint.attachment.file.storage.exists(footprint.attachment.file.name)
    import os

    assert not os.path.exists(export_path)
    # Reports keep their counts: conversations, events and (empty) messages stay.
    assert (Conversation.objects.count(), ConversationEvent.objects.count(), Message.objects.count()) == counts_before
    assert Message.objects.get(conversation=other).body == "李四的订单到了吗"
    # Audited, without the customer's words; who viewed the customer is still answerable.
    from apps.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="privacy.erasure_request", object_id=str(request.pk)).exists()
    assert AuditEntry.objects.filter(action="privacy.erasure_done").exists()
    views = AuditEntry.objects.filter(action="customer.view", object_id=str(footprint.customer.pk))
    assert list(views.values_list("actor_id", flat=True)) == [org.agent_sh.pk]


def test_erasure_and_search_under_elasticsearch_run_twice_without_harm(footprint, org_a, fake_es):
    request = PersonalDataRequest.objects.create(
        tenant=org_a.tenant, customer=footprint.customer, kind="erasure", requested_by=org_a.admin
    )
    first = services.privacy_request_run(request_id=request.pk)
    # A redelivered task: the request is done, nothing changes.
    PersonalDataRequest.objects.filter(pk=request.pk).update(status="running")
    second = services.privacy_request_run(request_id=request.pk)
    assert first.counts == second.counts or second.status == "done"
    assert (
        get_backend().search_conversation_ids(
            tenant_id=org_a.tenant.pk,
            text=NAME,
            start=footprint.conv.created_at.replace(year=2000),
            end=footprint.conv.created_at.replace(year=2100),
        )
        == []
    )


def test_access_request_exports_everything_held_as_a_zip(footprint, org_a, client, django_capture_on_commit_callbacks):
    org = org_a
    client.force_login(org.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/privacy/requests/",
            {"customer": footprint.customer.pk, "kind": "access"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    req = client.get(f"/api/v1/privacy/requests/{response.json()['id']}/").json()
    assert req["status"] == "done" and req["download_url"]
    download = client.get(req["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    import io

    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as zf:
        doc = json.loads(zf.read("customer.json"))
        names = zf.namelist()
    assert doc["customer"]["nickname"] == NAME and doc["customer"]["phone"] == PHONE
    assert doc["customer"]["identities"][0]["value"]
    texts = [m["text"] for c in doc["conversations"] for m in c["messages"]]
    assert any(WAYBILL in t for t in texts)
    assert not any("内部备注" in t for t in texts)  # staff notes are the company's, counted only
    assert doc["conversations"][0]["staff_notes_not_included"] == 1
    assert doc["conversations"][0]["rating"]["score"] == 1
    assert doc["leave_messages"][0]["contact"] == PHONE
    assert doc["captured_facts"][0]["value"] == WAYBILL
    assert any(n.startswith("attachments/") for n in names)
    from apps.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="privacy.access_download", actor=org.admin).exists()


def test_only_the_companys_administrators_handle_requests(footprint, org_a, org_b, api_client):
    body = {"customer": footprint.customer.pk, "kind": "erasure"}
    api_client.force_authenticate(org_a.sup_east)
    assert api_client.post("/api/v1/privacy/requests/", body, format="json").status_code == 403
    api_client.force_authenticate(org_b.admin)  # another tenant: as if the customer did not exist
    r = api_client.post("/api/v1/privacy/requests/", body, format="json")
    missing = api_client.post("/api/v1/privacy/requests/", {"customer": 10**9, "kind": "erasure"}, format="json")
    assert r.status_code == missing.status_code == 404 and r.json() == missing.json()
    assert api_client.get(f"/api/v1/privacy/customers/{footprint.customer.pk}/views/").status_code == 404
    api_client.force_authenticate(org_a.admin)
    bad = api_client.post("/api/v1/privacy/requests/", {"customer": footprint.customer.pk, "kind": "x"}, format="json")
    assert bad.status_code == 400
    assert not PersonalDataRequest.objects.exists()


def _customer(org, name):
    from apps.customers.models import Customer

    return Customer.objects.create(tenant=org.tenant, display_name=name)


def test_who_opened_a_customers_information_is_listed_for_the_administrator(footprint, org_a, api_client):
    api_client.force_authenticate(org_a.agent_sh)
    panel = f"/api/v1/workbench/conversations/{footprint.conv.pk}/customer/"
    assert api_client.get(panel).status_code == 200
    assert api_client.get(panel).status_code == 200  # a refresh is not a second entry
    api_client.force_authenticate(org_a.admin)
    rows = api_client.get(f"/api/v1/privacy/customers/{footprint.customer.pk}/views/").json()
    assert [(r["actor"], r["where"]) for r in rows] == [("agent_sh", "workbench")]
