"""REST API: suggestions, entries, import/export, agent assist, captured info, tenant isolation."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.knowledge.models import FaqEntry, SuggestionUsage

SUGGEST = "/api/v1/kb/suggest"


@pytest.mark.smoke
def test_suggest_returns_top_questions_for_partial_input(kit, api_client):
    response = api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "运费怎么"})
    assert response.status_code == 200
    suggestions = response.json()["suggestions"]
    assert 1 <= len(suggestions) <= 5
    assert suggestions[0]["question"] == "运费是怎么计算的？"
    assert set(suggestions[0]) == {"entry_id", "question", "category", "confidence"}


@pytest.mark.smoke
def test_suggest_rejects_bad_input_and_unknown_channels(kit, api_client):
    assert api_client.get(SUGGEST, {"q": "运费"}).status_code == 400
    assert api_client.get(SUGGEST, {"channel_key": "nope", "q": "运费"}).status_code == 404
    assert api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "运" * 101}).status_code == 400
    assert api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": ""}).json() == {"suggestions": []}
    kit.channel.is_enabled = False
    kit.channel.save()
    assert api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "运费"}).status_code == 404


@pytest.mark.smoke
def test_suggest_hot_path_costs_two_queries_once_the_index_is_warm(kit, api_client, django_assert_num_queries):
    api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "到付"})
    with django_assert_num_queries(2):
        assert api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "可以到付吗"}).status_code == 200


@pytest.mark.smoke
def test_suggest_is_rate_limited(kit, api_client):
    with override_settings(KB_SUGGEST_RATE="3/m"):
        codes = [api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "运费"}).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429


@pytest.mark.smoke
def test_suggestions_never_cross_tenants(kit, kit_b, api_client):
    from apps.knowledge.services import faq_entry_create

    secret = faq_entry_create(tenant_id=kit_b.org.tenant.pk, question="乙公司内部冷链暗号是什么", answer="x")
    got = api_client.get(SUGGEST, {"channel_key": kit.channel.key, "q": "乙公司内部冷链暗号"}).json()["suggestions"]
    assert secret.pk not in [s["entry_id"] for s in got]


@pytest.mark.smoke
def test_entries_crud_and_validation(kit, api_client):
    api_client.force_authenticate(kit.org.admin)
    response = api_client.post(
        "/api/v1/kb/entries/",
        {
            "question": "冷链专线怎么下单",
            "answer": "在App选择冷链",
            "similar_questions": ["冷链下单"],
            "links": [{"title": "冷链", "url": "https://example.com/cold"}],
            "category": "冷链",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    entry_id = response.json()["id"]
    bad = api_client.post(
        "/api/v1/kb/entries/",
        {"question": "", "answer": "x", "links": [{"title": "x", "url": "javascript:alert(1)"}]},
        format="json",
    )
    assert bad.status_code == 400
    assert (
        api_client.patch(f"/api/v1/kb/entries/{entry_id}/", {"answer": "新的答案"}, format="json").json()["answer"]
        == "新的答案"
    )
    assert api_client.delete(f"/api/v1/kb/entries/{entry_id}/").status_code == 204
    assert not FaqEntry.objects.filter(pk=entry_id).exists()


@pytest.mark.smoke
def test_supervisors_write_their_subtree_only_agents_read(kit, api_client):
    company_wide = FaqEntry.objects.filter(tenant=kit.org.tenant).first()
    api_client.force_authenticate(kit.org.sup_east)
    assert api_client.patch(f"/api/v1/kb/entries/{company_wide.pk}/", {"answer": "x"}, format="json").status_code == 403
    created = api_client.post(
        "/api/v1/kb/entries/", {"question": "华东专线", "answer": "a", "branch": kit.org.sh.pk}, format="json"
    )
    assert created.status_code == 201
    api_client.force_authenticate(kit.org.agent_sh)
    assert api_client.get("/api/v1/kb/entries/").status_code == 200
    assert api_client.post("/api/v1/kb/entries/", {"question": "q", "answer": "a"}, format="json").status_code == 403


@pytest.mark.smoke
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_export_round_trip(kit, kit_b, api_client, fmt):
    api_client.force_authenticate(kit.org.admin)
    keep = list(FaqEntry.objects.filter(tenant=kit.org.tenant).order_by("id").values_list("pk", flat=True)[:3])
    FaqEntry.objects.filter(tenant=kit.org.tenant).exclude(pk__in=keep).delete()
    first = FaqEntry.objects.filter(tenant=kit.org.tenant).order_by("id").first()
    first.links = [{"title": "计费规则", "url": "https://example.com/fee"}]
    first.images = ["https://example.com/a.png"]
    first.save()
    exported = api_client.get("/api/v1/kb/entries/export/", {"file_format": fmt})
    assert exported.status_code == 200
    original = list(
        FaqEntry.objects.filter(tenant=kit.org.tenant)
        .order_by("id")
        .values("question", "similar_questions", "answer", "links", "images", "category", "is_enabled")
    )

    # Into another tenant: everything is created (ids of tenant A mean nothing there).
    api_client.force_authenticate(kit_b.org.admin)
    FaqEntry.objects.filter(tenant=kit_b.org.tenant).delete()
    upload = SimpleUploadedFile(f"faq.{fmt}", exported.content)
    result = api_client.post("/api/v1/kb/entries/import/", {"file": upload}, format="multipart")
    assert result.status_code == 201, result.content
    assert result.json() == {"created": 3, "updated": 0}
    copied = list(
        FaqEntry.objects.filter(tenant=kit_b.org.tenant)
        .order_by("id")
        .values("question", "similar_questions", "answer", "links", "images", "category", "is_enabled")
    )
    assert copied == original

    # Back into the same tenant: rows with their ids update in place.
    api_client.force_authenticate(kit.org.admin)
    result = api_client.post(
        "/api/v1/kb/entries/import/", {"file": SimpleUploadedFile(f"faq.{fmt}", exported.content)}, format="multipart"
    )
    assert result.json() == {"created": 0, "updated": 3}


@pytest.mark.smoke
def test_import_with_a_bad_row_changes_nothing(kit, api_client):
    api_client.force_authenticate(kit.org.admin)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["question", "answer", "valid_from"])
    writer.writerow(["好问题", "好答案", ""])
    writer.writerow(["", "缺问题", ""])
    writer.writerow(["坏日期", "答案", "not-a-date"])
    before = FaqEntry.objects.count()
    response = api_client.post(
        "/api/v1/kb/entries/import/",
        {"file": SimpleUploadedFile("faq.csv", buf.getvalue().encode())},
        format="multipart",
    )
    assert response.status_code == 400
    assert [r["row"] for r in response.json()["error"]["rows"]] == [3, 4]
    assert FaqEntry.objects.count() == before
    wrong = api_client.post(
        "/api/v1/kb/entries/import/", {"file": SimpleUploadedFile("faq.txt", b"x")}, format="multipart"
    )
    assert wrong.status_code == 400


@pytest.mark.smoke
def test_export_neutralises_spreadsheet_formulas(kit, api_client):
    from apps.knowledge.services import faq_entry_create

    FaqEntry.objects.filter(tenant=kit.org.tenant).delete()
    faq_entry_create(tenant_id=kit.org.tenant.pk, question='=HYPERLINK("http://evil")', answer="a")
    api_client.force_authenticate(kit.org.admin)
    body = api_client.get("/api/v1/kb/entries/export/", {"file_format": "csv"}).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body


@pytest.mark.smoke
def test_assist_returns_best_answers_for_latest_visitor_message_and_counts_usage(kit, api_client):
    conversation = kit.start()
    kit.say(conversation, "转人工")
    kit.say(conversation, "我的快递地址填错了能改吗")
    api_client.force_authenticate(kit.org.agent_sh)
    data = api_client.get(f"/api/v1/kb/assist/{conversation.pk}/").json()
    assert data["message"]["body"] == "我的快递地址填错了能改吗"
    top = data["suggestions"][0]
    assert top["question"] == "快递寄出后能修改收件地址吗？"
    response = api_client.post(
        f"/api/v1/kb/assist/{conversation.pk}/usage/", {"entry_id": top["entry_id"], "action": "edited"}, format="json"
    )
    assert response.status_code == 201
    assert FaqEntry.objects.get(pk=top["entry_id"]).use_count == 1
    assert SuggestionUsage.objects.get().action == "edited"
    assert (
        api_client.post(
            f"/api/v1/kb/assist/{conversation.pk}/usage/",
            {"entry_id": top["entry_id"], "action": "liked"},
            format="json",
        ).status_code
        == 400
    )


@pytest.mark.smoke
def test_captured_information_for_the_customer_panel(kit, api_client):
    conversation = kit.start()
    kit.say(conversation, "我的单号是 SF1234567890")
    kit.say(conversation, "手机 13800138000")
    # The supervisor of the subtree reaches it (an agent only once they serve it: access policy).
    api_client.force_authenticate(kit.org.sup_east)
    data = api_client.get(f"/api/v1/kb/captured/{conversation.pk}/").json()
    assert [(s["slot"], s["value"]) for s in data["slots"]] == [("waybill", "SF1234567890"), ("phone", "13800138000")]
    assert data["customer"]["captured"] == {"waybill": ["SF1234567890"], "phone": "13800138000"}
    api_client.force_authenticate(kit.org.agent_south)  # another subtree
    assert api_client.get(f"/api/v1/kb/captured/{conversation.pk}/").status_code == 404
    api_client.force_authenticate(kit.org.agent_sh)  # same branch, not serving it
    assert api_client.get(f"/api/v1/kb/captured/{conversation.pk}/").status_code == 404


@pytest.mark.smoke
def test_another_tenants_ids_are_404_everywhere(kit, kit_b, api_client):
    conversation = kit.start()
    kit.say(conversation, "我要投诉，单号 SF1234567890")
    entry = FaqEntry.objects.filter(tenant=kit.org.tenant).first()
    api_client.force_authenticate(kit_b.org.admin)
    assert api_client.get(f"/api/v1/kb/entries/{entry.pk}/").status_code == 404
    assert api_client.patch(f"/api/v1/kb/entries/{entry.pk}/", {"answer": "x"}, format="json").status_code == 404
    assert api_client.delete(f"/api/v1/kb/entries/{entry.pk}/").status_code == 404
    assert api_client.get(f"/api/v1/kb/assist/{conversation.pk}/").status_code == 404
    assert (
        api_client.post(
            f"/api/v1/kb/assist/{conversation.pk}/usage/", {"entry_id": entry.pk, "action": "sent"}, format="json"
        ).status_code
        == 404
    )
    assert api_client.get(f"/api/v1/kb/captured/{conversation.pk}/").status_code == 404
    assert entry.pk not in [e["id"] for e in api_client.get("/api/v1/kb/entries/", {"limit": 500}).json()["results"]]
    assert api_client.get("/api/v1/kb/alerts/").json()["results"] == []
    # Using tenant B's conversation with tenant A's entry is also a 404.
    conversation_b = kit_b.start()
    assert (
        api_client.post(
            f"/api/v1/kb/assist/{conversation_b.pk}/usage/", {"entry_id": entry.pk, "action": "sent"}, format="json"
        ).status_code
        == 404
    )
    entry.refresh_from_db()
    assert entry.use_count == 0


@pytest.mark.smoke
def test_staff_search(kit, api_client):
    api_client.force_authenticate(kit.org.agent_sh)
    results = api_client.get("/api/v1/kb/entries/search/", {"q": "保价多少钱"}).json()["results"]
    assert results[0]["question"] == "保价怎么收费？"
