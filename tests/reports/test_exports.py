"""Exports people can use: the user's language (Chinese first), h:mm:ss durations by the report
definitions (never negative), real date cells in XLSX, the filters written at the top, the same
rows as the screen."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.utils import translation
from openpyxl import load_workbook

from apps.reports import exports
from apps.reports.history import history_filter_parse, history_page
from apps.tenants.time import zone
from tests.reports.conftest import T0

pytestmark = pytest.mark.django_db
FILTERS = {"date_from": "2026-03-01", "date_to": "2026-03-03"}


def _transferred(history):
    """Taken at T0+30 s, first answer 14 s later, transferred (assigned_at moves) and closed."""
    org = history.org
    c = history.conversation(at=T0)
    history.event(c, at=T0, kind="created", to="queued")
    accept = T0 + timedelta(seconds=30)
    history.event(c, at=accept, kind="assigned", frm="queued", to="active", agent=org.agent_sh)
    history.message(c, at=accept + timedelta(seconds=14), sender="agent", user=org.agent_sh)
    history.event(c, at=accept + timedelta(seconds=60), kind="transfer_requested", frm="active", to="transfer_pending")
    history.event(
        c,
        at=accept + timedelta(seconds=70),
        kind="transfer_accepted",
        frm="transfer_pending",
        to="active",
        agent=org.agent_pd,
    )
    history.message(c, at=accept + timedelta(seconds=80), sender="agent", user=org.agent_pd)
    history.event(c, at=accept + timedelta(seconds=100), kind="closed", frm="active", to="closed")
    # What the services store on the row: assigned_at moved with the transfer, after the first reply.
    type(c).objects.filter(pk=c.pk).update(
        assigned_at=accept + timedelta(seconds=70),
        first_response_at=accept + timedelta(seconds=14),
        closed_at=accept + timedelta(seconds=100),
        close_reason="agent_closed",
    )
    return c


def _run(actor, fmt, language="zh-hans", **kw):
    with translation.override(language):
        job = exports.export_create(actor=actor, filters=FILTERS, format=fmt, **kw)
    job = exports.export_run(job_id=job.pk)
    assert job.status == "done", job.error
    with job.file.open("rb") as fh:
        return fh.read()


def _csv(data):
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    head = next(i for i, r in enumerate(rows) if r and r[0] in ("会话", "Conversation"))
    return rows[:head], rows[head], rows[head + 1 :]


def test_history_export_in_chinese_with_the_report_definitions_and_the_filters_on_top(history):
    org = history.org
    c = _transferred(history)
    top, header, rows = _csv(_run(org.sup_east, "csv"))
    assert header[:3] == ["会话", "开始时间", "结束时间"]
    assert {"排队等待", "首次响应", "处理时长", "结束原因"} <= set(header)
    (row,) = rows
    cell = dict(zip(header, row, strict=True))
    # The report's definitions: first response from the first acceptance (not the transfer),
    # handling from the first acceptance to the close; never negative, rounded, h:mm:ss.
    assert (cell["排队等待"], cell["首次响应"], cell["处理时长"]) == ("0:00:30", "0:00:14", "0:01:40")
    assert cell["状态"] == "已结束" and cell["结束原因"] == "客服结束会话"
    assert cell["开始时间"] == "2026-03-02 09:00:00"  # the tenant's time
    assert ["日期", "2026-03-01 – 2026-03-03"] in top and ["导出人", org.sup_east.name] in top
    assert int(row[0]) == c.pk


def test_history_export_in_english_when_the_user_reads_english(history):
    _transferred(history)
    _top, header, _rows = _csv(_run(history.org.admin, "csv", language="en"))
    assert header[:3] == ["Conversation", "Start time", "End time"] and "First response" in header


def test_xlsx_has_real_date_and_duration_cells(history):
    _transferred(history)
    ws = load_workbook(io.BytesIO(_run(history.org.admin, "xlsx"))).active
    values = list(ws.iter_rows())
    head = next(i for i, r in enumerate(values) if r[0].value == "会话")
    header = [c.value for c in values[head]]
    row = {h: c for h, c in zip(header, values[head + 1], strict=True)}
    started = row["开始时间"]
    assert isinstance(started.value, datetime) and started.value == datetime(2026, 3, 2, 9, 0, 0)
    assert started.number_format == "yyyy-mm-dd hh:mm:ss"
    assert row["首次响应"].value == timedelta(seconds=14) and row["首次响应"].number_format == "[h]:mm:ss"
    assert row["处理时长"].value == timedelta(seconds=100)


def test_history_export_has_the_same_rows_as_the_screen(history):
    org = history.org
    for i in range(7):
        history.served(
            at=T0 + timedelta(minutes=i),
            agent=org.agent_sh if i % 2 else org.agent_south,
            branch=org.sh if i % 2 else org.south,
        )
    f = history_filter_parse(FILTERS)
    screen, _more = history_page(actor=org.sup_east, f=f, tz=zone("Asia/Shanghai"))
    _top, _header, rows = _csv(_run(org.sup_east, "csv"))
    assert [int(r[0]) for r in rows] == [c.pk for c in screen] and len(rows) == 3


def test_report_export_refuses_agents_and_bad_input(history):
    org = history.org
    from apps.core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        exports.export_create(actor=org.agent_sh, filters={}, format="csv", kind="report")
    with pytest.raises(ApplicationError) as bad:
        exports.export_create(actor=org.admin, filters={"dimension": "nope"}, format="csv", kind="report")
    assert bad.value.code == "invalid_dimension"
    with pytest.raises(ApplicationError) as far:
        exports.export_create(actor=org.admin, filters={"to": "9999-12-31"}, format="csv", kind="report")
    assert far.value.status_code == 400


def test_report_api_gives_the_page_columns_and_refuses_agents_and_bad_dates(history, api_client):
    from tests.conftest import PASSWORD

    org = history.org
    _transferred(history)
    api_client.login(username=org.sup_east.username, password=PASSWORD)
    resp = api_client.get("/api/v1/reports/", {"from": "2026-03-02", "to": "2026-03-02", "dimension": "agent"})
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert data["time_zone"] == "Asia/Shanghai" and data["from"] == data["to"] == "2026-03-02"
    assert [c["key"] for c in data["columns"]][:3] == ["agent_offered", "agent_accepted", "agent_connect_rate"]
    rows = {r["name"]: r for r in data["rows"]}
    assert rows["agent_sh"]["frt_avg"] == 14.0 and rows["agent_pd"]["aht_avg"] == 100.0
    assert data["total"]["wait_avg"] == 30.0
    bad = api_client.get("/api/v1/reports/", {"to": "9999-12-31"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_date"
    assert api_client.get("/api/v1/reports/", {"dimension": "x"}).status_code == 400
    api_client.logout()
    api_client.login(username=org.agent_sh.username, password=PASSWORD)
    assert api_client.get("/api/v1/reports/").status_code == 403
