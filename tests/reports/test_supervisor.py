"""Interventions, exports, follow-ups, tracking, customer centre, keyword alerts, pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone
from openpyxl import load_workbook

from apps.accounts.models import AgentStatusLog
from apps.accounts.services import agent_set_status
from apps.conversations import interventions
from apps.conversations.models import Conversation, Participant
from apps.core.errors import ApplicationError, NotFound
from apps.core.models import AuditEntry
from apps.customers import merging as customer_services
from apps.customers import selectors as customer_selectors
from apps.customers.models import Customer, CustomerIdentity
from apps.messaging.models import Message
from apps.messaging.selectors import message_history
from apps.messaging.services import message_create
from apps.reports import customer_centre, exports, services
from apps.reports.models import ExportJob, FollowUpTask, TrackingNotification
from tests.conftest import PASSWORD
from tests.reports.conftest import T0


def _active(history, agent, branch=None, body="订单什么时候到？"):
    conv = history.conversation(at=timezone.now(), branch=branch)
    Conversation.objects.filter(pk=conv.pk).update(
        status="active", assignee=agent, assigned_at=timezone.now(), open_key=f"{conv.channel_id}:{conv.customer_id}"
    )
    message_create(conversation_id=conv.pk, sender_kind="visitor", body=body)
    conv.refresh_from_db()
    return conv


def test_whisper_is_audited_and_never_reaches_the_visitor(history):
    org = history.org
    conv = _active(history, org.agent_sh)
    interventions.intervention_watch(actor=org.sup_east, conversation_id=conv.pk)
    assert Participant.objects.get(conversation=conv, user=org.sup_east).silent
    msg = interventions.intervention_whisper(actor=org.sup_east, conversation_id=conv.pk, body="先核实身份")
    assert msg.visibility == "staff"
    visitor_view = message_history(conversation=conv, staff=False)
    assert msg.pk not in {m.pk for m in visitor_view} and visitor_view
    assert msg.pk in {m.pk for m in message_history(conversation=conv, staff=True)}
    assert set(AuditEntry.objects.filter(actor=org.sup_east).values_list("action", flat=True)) >= {
        "intervention.watch",
        "intervention.whisper",
    }
    with pytest.raises(ApplicationError):
        interventions.intervention_whisper(actor=org.sup_east, conversation_id=conv.pk, body="   ")


def test_interventions_outside_the_subtree_or_tenant_are_not_found(history, history_b):
    org = history.org
    conv = _active(history, org.agent_sh)
    for actor in (org.sup_south, history_b.org.admin):
        with pytest.raises(NotFound):
            interventions.intervention_whisper(actor=actor, conversation_id=conv.pk, body="hi")
        with pytest.raises(NotFound):
            interventions.intervention_take_over(actor=actor, conversation_id=conv.pk)
    assert not Message.objects.filter(visibility="staff").exists()
    with pytest.raises(ApplicationError):
        interventions.intervention_watch(actor=org.agent_sh, conversation_id=conv.pk)  # agents cannot intervene


def test_take_over_reassigns_to_self_or_another_agent_and_is_audited(history):
    org = history.org
    agent_set_status(agent=org.sup_east, status="online")
    agent_set_status(agent=org.agent_pd, status="online")
    conv = _active(history, org.agent_sh)
    out = interventions.intervention_take_over(actor=org.sup_east, conversation_id=conv.pk)
    assert out.assignee_id == org.sup_east.pk and out.status == "active"
    out = interventions.intervention_take_over(actor=org.sup_east, conversation_id=conv.pk, agent_id=org.agent_pd.pk)
    assert out.assignee_id == org.agent_pd.pk
    entries = AuditEntry.objects.filter(action="intervention.take_over").order_by("id")
    assert [e.changes["to_agent"] for e in entries] == [org.sup_east.pk, org.agent_pd.pk]
    with pytest.raises(NotFound):
        interventions.intervention_take_over(actor=org.sup_east, conversation_id=conv.pk, agent_id=org.agent_south.pk)


def test_status_changes_are_logged_for_reports(history):
    org = history.org
    agent_set_status(agent=org.agent_sh, status="online")
    agent_set_status(agent=org.agent_sh, status="away")
    assert list(AgentStatusLog.objects.filter(agent=org.agent_sh).values_list("previous", "status")) == [
        ("offline", "online"),
        ("online", "away"),
    ]


def _export(actor, fmt="csv", transcript=True, **filters):
    filters.setdefault("date_from", "2026-03-01")
    filters.setdefault("date_to", "2026-03-03")
    job = exports.export_create(actor=actor, filters=filters, format=fmt, include_transcript=transcript)
    exports.export_run(job_id=job.pk)  # eager Celery already ran it; running twice is harmless
    job.refresh_from_db()
    return job


def _data_rows(rows):
    """The rows under the header (the filters are written above it)."""
    header = next(i for i, r in enumerate(rows) if r and str(r[0]) in ("会话", "Conversation"))
    return [r for r in rows[header + 1 :] if r and r[0] is not None]


def test_export_csv_and_xlsx_are_scoped_and_transcripts_exclude_whispers(history):
    org = history.org
    a = history.served(at=T0, agent=org.agent_sh, score=2)
    history.message(a, at=T0 + timedelta(minutes=1), body='=HYPERLINK("x")')
    history.message(
        a, at=T0 + timedelta(minutes=2), sender="supervisor", user=org.sup_east, body="内部备注", visibility="staff"
    )
    b = history.served(at=T0 + timedelta(minutes=3), agent=org.agent_south, branch=org.south)
    job = _export(org.sup_east)
    assert job.status == "done" and job.progress == 100 and job.total == 1
    with job.file.open("rb") as fh:
        rows = list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))
    assert [r[0] for r in _data_rows(rows)] == [str(a.pk)]  # b (South) is outside East
    with job.transcript_file.open("rb") as fh:
        transcript = fh.read().decode()
    assert "内部备注" not in transcript and "'=HYPERLINK" not in transcript and "=HYPERLINK" in transcript
    xjob = _export(org.admin, fmt="xlsx", transcript=False)
    with xjob.file.open("rb") as fh:
        ws = load_workbook(io.BytesIO(fh.read()), read_only=True).active
        ids = sorted(str(r[0]) for r in _data_rows(list(ws.iter_rows(values_only=True))))
    assert ids == sorted([str(a.pk), str(b.pk)])


def test_export_api_create_poll_download_and_expiry(history, history_b, api_client, django_capture_on_commit_callbacks):
    org = history.org
    history.served(at=T0, agent=org.agent_sh)
    api_client.login(username=org.sup_east.username, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):  # the Celery task is enqueued on commit
        resp = api_client.post(
            "/api/v1/exports/",
            {"format": "csv", "filters": {"date_from": "2026-03-01", "date_to": "2026-03-03"}},
            format="json",
        )
    assert resp.status_code == 201, resp.content
    job_id = resp.json()["id"]
    poll = api_client.get(f"/api/v1/exports/{job_id}/").json()
    assert poll["status"] == "done" and poll["progress"] == 100 and poll["download_url"]
    download = api_client.get(poll["download_url"])
    assert download.status_code == 200
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    assert len(_data_rows(list(csv.reader(io.StringIO(text))))) == 1
    assert api_client.post("/api/v1/exports/", {"format": "pdf"}, format="json").status_code == 400
    assert api_client.post("/api/v1/exports/", {"filters": {"branch": org.south.pk}}, format="json").status_code == 404
    # Another tenant's admin sees nothing.
    other = api_client.__class__()
    other.login(username=history_b.org.admin.username, password=PASSWORD)
    assert other.get(f"/api/v1/exports/{job_id}/").status_code == 404
    assert other.get(f"/api/v1/exports/{job_id}/download/").status_code == 404
    # Expired: the link answers 410 and the file is gone after the sweep.
    job = ExportJob.objects.get(pk=job_id)
    ExportJob.objects.filter(pk=job_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert api_client.get(f"/api/v1/exports/{job_id}/download/").status_code == 410
    assert exports.exports_expire() == 1
    assert not default_storage.exists(job.file.name)
    assert api_client.get(f"/api/v1/exports/{job_id}/download/").status_code == 409


def test_dissatisfied_rating_creates_one_follow_up_and_notifies_trackers(history):
    org = history.org
    conv = history.served(at=T0, agent=org.agent_sh, branch=org.pd, score=1)
    services.tracking_subscribe(actor=org.sup_east, customer_id=conv.customer_id)
    history.served(at=T0, agent=org.agent_sh, score=5)
    services.tracking_scan_events()
    services.tracking_scan_events()  # twice: nothing doubles
    task = FollowUpTask.objects.get()
    assert task.conversation_id == conv.pk and task.assignee == org.sup_east  # nearest supervisor up the tree
    assert task.due_at == task.rating.created_at + timedelta(hours=24)
    steps = list(TrackingNotification.objects.filter(user=org.sup_east).order_by("id").values_list("step", flat=True))
    assert steps == ["assigned", "closed", "follow_up_created"]
    with pytest.raises(ApplicationError):
        services.followup_update(actor=org.sup_east, task_id=task.pk, done=True)  # a result is required
    with pytest.raises(NotFound):
        services.followup_update(actor=org.sup_south, task_id=task.pk, result="x")
    services.followup_update(
        actor=org.sup_east, task_id=task.pk, result="已电话回访，客户满意", outcome="resolved", done=True
    )
    assert TrackingNotification.objects.filter(step="followed_up").count() == 1


def test_tracking_webhook_is_posted_and_signed(history, django_capture_on_commit_callbacks):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        org = history.org
        conv = history.served(at=T0, agent=org.agent_sh, score=1)
        services.tracking_subscribe(
            actor=org.sup_east,
            customer_id=conv.customer_id,
            webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.tracking_scan_events()
    finally:
        server.shutdown()
    assert got and json.loads(got[0][1])["type"] == "tracking.step"
    from apps.outbound.models import WebhookDelivery
    from apps.outbound.webhooks import signature_valid

    headers, body = got[0]
    assert headers["X-Kefu-Signature"].startswith("sha256=")
    assert signature_valid(
        secret=org.tenant.push_webhook_secret,
        timestamp=headers["X-Kefu-Timestamp"],
        body=body,
        value=headers["X-Kefu-Signature"],
    )
    delivery = WebhookDelivery.objects.get(kind="tracking", key=headers["Idempotency-Key"])
    assert delivery.status == "delivered" and headers["X-Kefu-Delivery"] == str(delivery.pk)


def test_merge_and_split_customers_across_channels(history, history_b):
    org = history.org
    web = history.served(at=T0, agent=org.agent_sh)
    wx = history.served(at=T0, agent=org.agent_sh, channel="wechat")
    a, b = web.customer, wx.customer
    Customer.objects.filter(pk=a.pk).update(phone="13800000000")
    CustomerIdentity.objects.create(tenant=history.tenant, customer=b, kind="wechat", value="openid-1")
    CustomerIdentity.objects.create(tenant=history.tenant, customer=b, kind="phone", value="13800000000")
    assert [
        c.pk for c in customer_selectors.customer_duplicates(actor=org.admin, customer=Customer.objects.get(pk=a.pk))
    ] == [b.pk]
    merge = customer_services.customer_merge(actor=org.sup_east, target_id=a.pk, source_id=b.pk)
    assert set(Conversation.objects.filter(customer=a).values_list("pk", flat=True)) == {web.pk, wx.pk}
    assert CustomerIdentity.objects.filter(customer=a).count() == 2
    profile = customer_centre.customer_profile(actor=org.admin, customer_id=a.pk)
    assert {v["channel__name"] for v in profile["visits"]} == {"web", "wechat"}
    with pytest.raises(NotFound):
        customer_centre.customer_profile(actor=org.admin, customer_id=b.pk)  # merged away
    with pytest.raises(NotFound):
        customer_services.customer_merge(actor=history_b.org.admin, target_id=a.pk, source_id=b.pk)
    customer_services.customer_split(actor=org.admin, merge_id=merge.pk)
    assert list(Conversation.objects.filter(customer=b).values_list("pk", flat=True)) == [wx.pk]
    assert CustomerIdentity.objects.filter(customer=b).count() == 2
    with pytest.raises(ApplicationError):
        customer_services.customer_split(actor=org.admin, merge_id=merge.pk)


def test_alert_keywords_flag_conversations_for_the_monitor(history, django_capture_on_commit_callbacks):
    from apps.knowledge.models import KeywordAlert
    from apps.knowledge.services import alert_keyword_create

    org = history.org
    alert_keyword_create(tenant_id=history.tenant.pk, word="投诉", severity="high")
    with django_capture_on_commit_callbacks(execute=True):  # alerts are flagged after the send commits
        conv = _active(history, org.agent_sh, body="我要投诉你们！")
        _active(history, org.agent_sh, body="谢谢")
    assert list(KeywordAlert.objects.values_list("conversation_id", "word")) == [(conv.pk, "投诉")]
    from apps.reports.selectors import monitor_snapshot

    snap = monitor_snapshot(actor=org.sup_east)
    assert [(a["conversation_id"], a["keyword"], a["severity"]) for a in snap["alerts"]] == [(conv.pk, "投诉", "high")]
    assert monitor_snapshot(actor=org.sup_south)["alerts"] == []


@pytest.mark.smoke
def test_pages_render_for_managers_and_refuse_agents(history, client):
    org = history.org
    conv = history.served(at=T0, agent=org.agent_sh, score=1)
    history.message(conv, at=T0 + timedelta(minutes=1), body="<script>alert(1)</script>")
    client.login(username=org.sup_east.username, password=PASSWORD)
    for url in [
        "/supervisor/reports/",
        "/supervisor/reports/?dimension=branch&grain=h",
        "/supervisor/monitor/",
        "/supervisor/history/?from=2026-03-01&to=2026-03-03",
        f"/supervisor/conversations/{conv.pk}/",
        "/supervisor/exports/",
        "/supervisor/follow-ups/",
        "/supervisor/customers/",
        f"/supervisor/customers/{conv.customer_id}/",
    ]:
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert b"<script>alert(1)</script>" not in resp.content
    assert client.get("/supervisor/reports/?from=bad").status_code == 400
    south = history.served(at=T0, agent=org.agent_south, branch=org.south)
    assert client.get(f"/supervisor/conversations/{south.pk}/").status_code == 404
    client.logout()
    client.login(username=org.agent_sh.username, password=PASSWORD)
    assert client.get("/supervisor/reports/").status_code == 403


@pytest.mark.smoke
def test_kpi_targets_are_set_by_super_admin_and_compared_over_the_subtree(history):
    import zoneinfo

    from apps.reports import rollups, selectors

    org = history.org
    history.served(at=T0, agent=org.agent_pd, branch=org.pd, frt=30, score=5)
    history.served(at=T0, agent=org.agent_sh, frt=200, score=1)
    rollups.rollup_rebuild(tenant_id=org.tenant.pk, start=T0, end=T0 + timedelta(hours=3), now=T0 + timedelta(hours=3))
    with pytest.raises(ApplicationError):
        services.kpi_target_set(actor=org.sup_east, branch_id=org.east.pk, metric="frt", target=60)
    with pytest.raises(ApplicationError):
        services.kpi_target_set(actor=org.admin, branch_id=org.east.pk, metric="bogus", target=1)
    services.kpi_target_set(actor=org.admin, branch_id=org.east.pk, metric="frt", target=60)
    services.kpi_target_set(actor=org.admin, branch_id=org.pd.pk, metric="satisfaction", target=80)
    rng = selectors.parse_range(
        tz=zoneinfo.ZoneInfo("Asia/Shanghai"), date_from="2026-03-02", date_to="2026-03-02", grain="d"
    )
    kpis = {(k["branch"].name, k["metric_key"]): k for k in selectors.kpi_table(actor=org.sup_east, rng=rng)}
    east = kpis[("East", "frt")]
    assert east["value"] == 115.0 and east["met"] is False  # (30 + 200) / 2 over the East subtree; lower is better
    pd = kpis[("Pudong", "satisfaction")]
    assert pd["value"] == 100.0 and pd["met"] is True
    assert selectors.kpi_table(actor=org.sup_south, rng=rng) == []


def test_report_and_history_pages_use_a_bounded_number_of_queries(history, client, django_assert_max_num_queries):
    org = history.org
    for i in range(12):
        history.served(
            at=T0 + timedelta(minutes=i),
            agent=org.agent_sh if i % 2 else org.agent_pd,
            score=(i % 5) + 1,
            tags=("billing",),
        )
    from apps.reports import rollups

    rollups.rollup_rebuild(tenant_id=org.tenant.pk, start=T0, end=T0 + timedelta(hours=3), now=T0 + timedelta(hours=3))
    client.login(username=org.admin.username, password=PASSWORD)
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        rollups.rollup_refresh()  # the beat has run: the stored rows hold everything
        # The stored rows for the year, and the current hour computed from the raw rows (no
        # query per row, per day or per agent).
        with django_assert_max_num_queries(30):
            assert client.get("/supervisor/reports/?from=2026-01-01&to=2026-12-31").status_code == 200
        with django_assert_max_num_queries(15):
            assert client.get("/supervisor/history/?from=2026-03-01&to=2026-03-03").status_code == 200


def test_agent_exports_only_their_own_history_through_the_api(history, api_client, django_capture_on_commit_callbacks):
    org = history.org
    mine = history.served(at=T0, agent=org.agent_pd, branch=org.pd)
    history.served(at=T0, agent=org.agent_sh, branch=org.pd)  # same branch, another agent
    api_client.login(username=org.agent_pd.username, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        resp = api_client.post(
            "/api/v1/exports/", {"filters": {"date_from": "2026-03-01", "date_to": "2026-03-03"}}, format="json"
        )
    assert resp.status_code == 201
    job = ExportJob.objects.get(pk=resp.json()["id"])
    with job.file.open("rb") as fh:
        rows = list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))
    assert [r[0] for r in _data_rows(rows)] == [str(mine.pk)]


@pytest.mark.smoke
def test_periodic_jobs_are_in_the_beat_schedule(settings):
    from django.conf import settings as live

    tasks = {entry["task"] for entry in live.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "apps.reports.tasks.rollup_refresh_task",
        "apps.reports.tasks.tracking_scan_task",
        "apps.reports.tasks.exports_expire_task",
    } <= tasks


def test_text_filtered_export_is_not_cut_at_the_screens_search_limit(history, monkeypatch):
    org = history.org
    convs = []
    for minutes in (0, 10, 20):
        conv = history.served(at=T0 + timedelta(minutes=minutes), agent=org.agent_sh)
        history.message(conv, at=T0 + timedelta(minutes=minutes + 1), body="我要退款")
        convs.append(conv.pk)
    monkeypatch.setattr("apps.search.selectors.MAX_CONVERSATIONS", 2)
    from apps.reports.history import history_filter_parse, history_queryset

    f = history_filter_parse({"date_from": "2026-03-01", "date_to": "2026-03-03", "text": "退款"})
    tz = exports._tz(org.admin)
    assert list(history_queryset(actor=org.admin, f=f, tz=tz).values_list("pk", flat=True)) == convs[:0:-1]
    job = _export(org.admin, transcript=False, text="退款")
    assert job.status == "done" and job.total == 3
