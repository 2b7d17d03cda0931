"""Back office: FAQ import/export, keyword alerts listed in scope."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.knowledge.models import FaqEntry
from apps.knowledge.services import alert_keyword_create


@pytest.mark.smoke
def test_admin_import_view_and_export_action(kit, client):
    client.force_login(kit.org.admin)
    page = client.get("/manage/knowledge/faqentry/")
    assert page.status_code == 200
    ids = list(FaqEntry.objects.filter(tenant=kit.org.tenant).values_list("pk", flat=True)[:2])
    exported = client.post("/manage/knowledge/faqentry/", {"action": "export_csv", "_selected_action": ids})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    assert client.get("/manage/knowledge/faqentry/import/").status_code == 200
    csv_bytes = "question,answer\n新问题甲,新答案甲\n".encode()
    response = client.post("/manage/knowledge/faqentry/import/", {"file": SimpleUploadedFile("a.csv", csv_bytes)})
    assert response.status_code == 302
    assert FaqEntry.objects.filter(tenant=kit.org.tenant, question="新问题甲").exists()


@pytest.mark.smoke
def test_admin_edit_rebuilds_the_index(kit, client):
    from apps.knowledge.index import get_index

    client.force_login(kit.org.admin)
    before = get_index(kit.org.tenant.pk).version
    entry = FaqEntry.objects.filter(tenant=kit.org.tenant).first()
    response = client.post(
        f"/manage/knowledge/faqentry/{entry.pk}/change/",
        {
            "question": "全新的标准问题",
            "similar_questions": "说法一\n说法二",
            "answer": "答",
            "links": "[]",
            "images": "",
            "category": "x",
            "ask_slots": "[]",
            "is_enabled": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    entry.refresh_from_db()
    assert entry.similar_questions == ["说法一", "说法二"]
    assert get_index(kit.org.tenant.pk).version > before


@pytest.mark.smoke
def test_admin_lists_flagged_conversations_in_scope_and_hides_other_tenants(kit, kit_b, client):
    alert_keyword_create(tenant_id=kit.org.tenant.pk, word="投诉")
    conversation = kit.start()
    kit.say(conversation, "我要投诉")
    client.force_login(kit.org.sup_east)
    page = client.get("/manage/knowledge/keywordalert/")
    assert page.status_code == 200 and "投诉" in page.content.decode()
    client.force_login(kit.org.sup_south)
    assert "我要投诉" not in client.get("/manage/knowledge/keywordalert/").content.decode()
    client.force_login(kit_b.org.admin)
    entry = FaqEntry.objects.filter(tenant=kit.org.tenant).first()
    assert client.get(f"/manage/knowledge/faqentry/{entry.pk}/change/").status_code == 404
