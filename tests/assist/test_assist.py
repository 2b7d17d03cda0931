"""AI assistance against a local chat-completions server: summaries on transfer and close,
reply suggestions, only that conversation's text in the request, usage per tenant, failures as
"unavailable" without touching messaging, off by default, the access policy's 404."""

from __future__ import annotations

import json

import pytest

from apps.accounts import services as account_services
from apps.accounts.models import AgentStatus
from apps.assist import services
from apps.assist.models import AssistSettings, AssistUsage, ConversationSummary, Outcome, ReplySuggestion
from apps.conversations import services as conversation_services
from apps.core.models import AuditEntry
from apps.messaging import groups
from apps.messaging import publish as publish_module
from apps.messaging.models import Message
from apps.messaging.services import message_create
from tests.assist.conftest import switch_on

pytestmark = [pytest.mark.django_db(transaction=True)]


def _talk(conv, agent, words: tuple[str, str]):
    message_create(conversation_id=conv.pk, sender_kind="visitor", body=words[0], client_msg_id=f"v-{words[0]}")
    message_create(
        conversation_id=conv.pk, sender_kind="agent", sender_user=agent, body=words[1], client_msg_id=f"a-{words[1]}"
    )


def _receiver(org):
    receiver = org.user("receiver", "agent", org.sh)
    account_services.agent_set_status(agent=receiver, status=AgentStatus.ONLINE)
    return receiver


def test_off_by_default_nothing_is_called_and_the_workbench_is_told(im_a, org_a, api_client, ai_server):
    conv, _customer, _token = im_a.conversation()
    _talk(conv, org_a.agent_sh, ("我要退货", "好的，请提供订单号"))
    receiver = _receiver(org_a)
    conversation_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=org_a.agent_sh, to_agent_id=receiver.pk
    )
    api_client.force_authenticate(org_a.agent_sh)
    got = api_client.get(f"/api/v1/assist/conversations/{conv.pk}/").json()
    assert got == {"enabled": False, "suggestions_enabled": False, "summaries": []}
    other, _c, _t = im_a.conversation()
    refused = api_client.post(f"/api/v1/assist/conversations/{other.pk}/suggestions/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "assist_disabled"
    conversation_services.conversation_close(conversation_id=other.pk, actor=org_a.agent_sh)
    assert ai_server.requests == []
    assert not ConversationSummary.objects.exists() and not ReplySuggestion.objects.exists()
    assert not AssistUsage.objects.exists()
    assert AssistSettings.objects.get(tenant=org_a.tenant).is_enabled is False


def test_a_transfer_is_summarised_from_that_conversation_only_and_the_receiver_sees_it(
    im_a, org_a, api_client, ai_server, monkeypatch
):
    sent: list[tuple[list[str], dict]] = []
    real = publish_module._send_batch
    monkeypatch.setattr(publish_module, "_send_batch", lambda batch, **kw: (sent.extend(batch), real(batch, **kw)))
    switch_on(org_a, ai_server)
    conv, _customer, _token = im_a.conversation()
    other, _c, _t = im_a.conversation(agent=org_a.agent_pd)
    _talk(conv, org_a.agent_sh, ("我的快递SF1234567890到哪了", "正在为您查询"))
    _talk(other, org_a.agent_pd, ("另一位客户的秘密地址：浦东大道88号", "收到"))
    message_create(
        conversation_id=conv.pk,
        sender_kind="agent",
        sender_user=org_a.agent_sh,
        body="客户很着急",
        client_msg_id="note-1",
        visibility="staff",
    )
    receiver = _receiver(org_a)
    conversation_services.conversation_transfer_request(
        conversation_id=conv.pk, actor=org_a.agent_sh, to_agent_id=receiver.pk, note="请跟进"
    )
    assert len(ai_server.requests) == 1
    body = ai_server.requests[0]
    assert body["model"] == "qwen-plus"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "客户：我的快递SF1234567890到哪了" in body["messages"][1]["content"]
    assert "客服：正在为您查询" in body["messages"][1]["content"]
    assert "客服（内部备注）：客户很着急" in body["messages"][1]["content"]
    text = ai_server.bodies_text()
    assert "浦东大道" not in text and "另一位客户" not in text
    assert ai_server.headers[0]["Authorization"] == "Bearer sk-test-0123456789abcd"

    summary = ConversationSummary.objects.get(conversation=conv)
    assert (summary.status, summary.trigger, summary.text) == (Outcome.OK, "transfer", ai_server.reply)
    usage = AssistUsage.objects.get(tenant=org_a.tenant)
    assert (usage.calls, usage.failures, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        1,
        0,
        120,
        30,
        150,
    )
    told = [groups_ for groups_, event in sent if event["type"] == "assist.summary"]
    assert told and groups.agent_group(org_a.tenant.pk, receiver.pk) in told[0]
    assert all(not g.startswith(groups.customer_group(org_a.tenant.pk, 0)[:-1]) for g in told[0])

    api_client.force_authenticate(receiver)  # the pending transfer's receiver may view it
    got = api_client.get(f"/api/v1/assist/conversations/{conv.pk}/").json()
    assert got["enabled"] is True and got["summaries"][0]["text"] == ai_server.reply
    assert got["summaries"][0]["trigger"] == "transfer" and got["summaries"][0]["status"] == "ok"

    # The task again (a redelivery): nothing called, nothing written twice.
    services.summary_generate(summary_id=summary.pk)
    assert len(ai_server.requests) == 1 and ConversationSummary.objects.count() == 1
    assert AssistUsage.objects.get(tenant=org_a.tenant).calls == 1


def test_a_close_is_summarised_and_shown_in_the_closed_conversation(im_a, org_a, api_client, ai_server):
    switch_on(org_a, ai_server, summarize_on_transfer=False)
    conv, _customer, _token = im_a.conversation()
    _talk(conv, org_a.agent_sh, ("发票怎么开", "已为您开具电子发票"))
    conversation_services.conversation_close(conversation_id=conv.pk, actor=org_a.agent_sh)
    summary = ConversationSummary.objects.get(conversation=conv)
    assert summary.trigger == "close" and summary.status == Outcome.OK
    assert "发票怎么开" in ai_server.requests[0]["messages"][1]["content"]
    api_client.force_authenticate(org_a.agent_sh)  # read-only history of their closed conversation
    got = api_client.get(f"/api/v1/assist/conversations/{conv.pk}/").json()
    assert [s["trigger"] for s in got["summaries"]] == ["close"]


def test_suggestions_are_one_to_three_replies_of_that_conversation(im_a, org_a, api_client, ai_server):
    switch_on(org_a, ai_server)
    conv, _customer, _token = im_a.conversation()
    other, _c, _t = im_a.conversation(agent=org_a.agent_pd)
    _talk(conv, org_a.agent_sh, ("能改收货地址吗", "请稍等"))
    _talk(other, org_a.agent_pd, ("别人的手机13912345678", "好"))
    ai_server.reply = json.dumps(
        ["可以的，请告诉我新的地址。", "您好，订单未发货前可以修改地址。", "请提供订单号。", "第四条"],
        ensure_ascii=False,
    )
    api_client.force_authenticate(org_a.agent_sh)
    made = api_client.post(f"/api/v1/assist/conversations/{conv.pk}/suggestions/")
    assert made.status_code == 202, made.content
    row = made.json()
    assert row["status"] == "ok"
    assert row["suggestions"] == ["可以的，请告诉我新的地址。", "您好，订单未发货前可以修改地址。", "请提供订单号。"]
    again = api_client.get(f"/api/v1/assist/suggestions/{row['id']}/").json()
    assert again == row
    assert "能改收货地址吗" in ai_server.bodies_text() and "13912345678" not in ai_server.bodies_text()
    # Lines with numbering are accepted too.
    assert services.parse_suggestions("1. 好的\n2、马上处理\n- 请稍等") == ["好的", "马上处理", "请稍等"]
    # Running the task again for the same row calls nothing.
    services.suggestion_generate(suggestion_id=row["id"])
    assert len(ai_server.requests) == 1
    assert AssistUsage.objects.get(tenant=org_a.tenant).calls == 1


@pytest.mark.parametrize("failure", ["timeout", "500", "refused"])
def test_a_failing_provider_is_unavailable_and_messaging_goes_on(im_a, org_a, api_client, ai_server, failure, settings):
    switch_on(org_a, ai_server, timeout_seconds=1)
    if failure == "timeout":
        ai_server.delay = 2.5
    elif failure == "500":
        ai_server.status = 500
    else:  # the provider's address is refused by the outbound guard (an internal address)
        settings.OUTBOUND_ALLOWED_NETWORKS = []
    conv, _customer, _token = im_a.conversation()
    _talk(conv, org_a.agent_sh, ("在吗", "在的"))
    api_client.force_authenticate(org_a.agent_sh)
    made = api_client.post(f"/api/v1/assist/conversations/{conv.pk}/suggestions/")
    assert made.status_code == 202 and made.json() == {
        "id": made.json()["id"],
        "conversation_id": conv.pk,
        "status": "unavailable",
        "suggestions": [],
    }
    sent = api_client.post(
        f"/api/v1/im/conversations/{conv.pk}/messages/", {"body": "请问还有什么可以帮您", "client_msg_id": "after"}
    )
    assert sent.status_code == 201
    conversation_services.conversation_close(conversation_id=conv.pk, actor=org_a.agent_sh)
    summary = ConversationSummary.objects.get(conversation=conv)
    assert summary.status == Outcome.UNAVAILABLE and summary.text == ""
    got = api_client.get(f"/api/v1/assist/conversations/{conv.pk}/").json()
    assert got["summaries"][0]["status"] == "unavailable"
    assert Message.objects.filter(conversation=conv, body="请问还有什么可以帮您").exists()
    usage = AssistUsage.objects.get(tenant=org_a.tenant)
    assert usage.calls == 2 and usage.failures == 2 and usage.total_tokens == 0
    assert len(ai_server.requests) == (0 if failure == "refused" else 2)


def test_another_tenants_or_an_unrelated_agents_ids_are_404(im_a, org_a, org_b, api_client, ai_server):
    switch_on(org_a, ai_server)
    conv, _customer, _token = im_a.conversation()
    api_client.force_authenticate(org_a.agent_sh)
    mine = api_client.post(f"/api/v1/assist/conversations/{conv.pk}/suggestions/").json()
    missing = 2_000_000_000
    for user in (org_b.admin, org_b.agent_sh, org_a.agent_south):
        api_client.force_authenticate(user)
        for method, url in (
            ("get", "/api/v1/assist/conversations/{}/"),
            ("post", "/api/v1/assist/conversations/{}/suggestions/"),
        ):
            theirs = getattr(api_client, method)(url.format(conv.pk))
            nothing = getattr(api_client, method)(url.format(missing))
            assert theirs.status_code == 404 and theirs.json() == nothing.json(), (user, url)
        assert api_client.get(f"/api/v1/assist/suggestions/{mine['id']}/").json() == nothing.json()
    # A colleague who may see the conversation still cannot read my suggestions' row.
    api_client.force_authenticate(org_a.sup_east)
    assert api_client.get(f"/api/v1/assist/suggestions/{mine['id']}/").status_code == 404
    assert len(ai_server.requests) == 1


def test_the_suggest_endpoint_is_rate_limited(im_a, org_a, api_client, ai_server, settings):
    settings.ASSIST_SUGGEST_RATE = "3/m"
    switch_on(org_a, ai_server)
    conv, _customer, _token = im_a.conversation()
    api_client.force_authenticate(org_a.agent_sh)
    codes = [api_client.post(f"/api/v1/assist/conversations/{conv.pk}/suggestions/").status_code for _ in range(5)]
    assert codes[:3] == [202, 202, 202] and codes[3:] == [429, 429]
    assert len(ai_server.requests) == 3


def test_the_endpoints_cost_the_same_whatever_the_conversations_length(
    im_a, org_a, api_client, ai_server, django_assert_num_queries
):
    switch_on(org_a, ai_server)
    short, _c1, _t1 = im_a.conversation()
    long, _c2, _t2 = im_a.conversation()
    _talk(short, org_a.agent_sh, ("一", "二"))
    for i in range(15):
        _talk(long, org_a.agent_sh, (f"问题{i}", f"回答{i}"))
    for conv in (short, long):
        conversation_services.conversation_close(conversation_id=conv.pk, actor=org_a.agent_sh)
    api_client.force_authenticate(org_a.agent_sh)
    # GET: the access check, the settings, the summaries.
    for conv in (short, long):
        with django_assert_num_queries(3):
            assert api_client.get(f"/api/v1/assist/conversations/{conv.pk}/").status_code == 200
    open_short, _c3, _t3 = im_a.conversation()
    open_long, _c4, _t4 = im_a.conversation()
    _talk(open_short, org_a.agent_sh, ("一", "二"))
    for i in range(15):
        _talk(open_long, org_a.agent_sh, (f"问题{i}", f"回答{i}"))
    counts = []
    for conv in (open_short, open_long):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            made = api_client.post(f"/api/v1/assist/conversations/{conv.pk}/suggestions/")
        assert made.status_code == 202
        counts.append(len(ctx.captured_queries))
        with django_assert_num_queries(1):  # the row, scoped through the access policy in the same query
            api_client.get(f"/api/v1/assist/suggestions/{made.json()['id']}/")
    assert counts[0] == counts[1]


def test_the_key_is_kept_but_never_shown_back_and_only_admins_change_settings(org_a, org_b, client, ai_server):
    switch_on(org_a, ai_server)
    row = services.assist_settings_update(actor=org_a.admin, tenant_id=org_a.tenant.pk, api_key="", model="qwen-max")
    assert row.api_key == "sk-test-0123456789abcd" and row.key_hint == "••••abcd"
    entries = AuditEntry.objects.filter(action="assist.settings_update")
    assert entries.count() == 2 and "sk-test" not in json.dumps([e.changes for e in entries], ensure_ascii=False)
    with pytest.raises(Exception) as refused:
        services.assist_settings_update(actor=org_a.sup_east, tenant_id=org_a.tenant.pk, is_enabled=False)
    assert refused.value.status_code == 403
    with pytest.raises(Exception) as other:
        services.assist_settings_update(actor=org_b.admin, tenant_id=org_a.tenant.pk, is_enabled=False)
    assert other.value.status_code == 404
    with pytest.raises(Exception) as bad:
        services.assist_settings_update(actor=org_a.admin, tenant_id=org_a.tenant.pk, api_url="http://169.254.169.254/")
    assert bad.value.code == "url_not_allowed"
    with pytest.raises(Exception) as slow:
        services.assist_settings_update(actor=org_a.admin, tenant_id=org_a.tenant.pk, timeout_seconds=600)
    assert slow.value.code == "invalid"
    assert AssistSettings.objects.get(tenant=org_a.tenant).timeout_seconds == 15.0

    client.force_login(org_a.admin)
    page = client.get(f"/manage/assist/assistsettings/{row.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "sk-test-0123456789abcd" not in html and "••••abcd" in html
    usage = client.get("/manage/assist/assistusage/")
    assert usage.status_code == 200
    client.force_login(org_b.admin)
    assert client.get(f"/manage/assist/assistsettings/{row.pk}/change/").status_code in (302, 404)


def test_a_transfer_back_to_the_queue_is_summarised_for_whoever_takes_it(im_a, org_a, ai_server):
    switch_on(org_a, ai_server, summarize_on_close=False)
    conv, _customer, _token = im_a.conversation()
    _talk(conv, org_a.agent_sh, ("我要开专票", "这个需要财务处理"))
    conversation_services.conversation_transfer_to_queue(conversation_id=conv.pk, actor=org_a.agent_sh)
    summary = ConversationSummary.objects.get(conversation=conv)
    assert (summary.trigger, summary.status) == ("transfer", Outcome.OK)
    assert "我要开专票" in ai_server.requests[0]["messages"][1]["content"]
