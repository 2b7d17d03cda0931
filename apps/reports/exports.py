"""Exports (F17/F33): one row per conversation (+ optional transcript), CSV or XLSX, by Celery.

The job re-applies the history filter *as the requesting user* when it runs, so an export never
holds more than the screens show. Rows stream in chunks (the file is written as it goes, XLSX in
openpyxl's write_only mode), progress is stored after every chunk, and the download expires.
Transcripts contain only messages the visitor saw: whispers and internal notes never leave.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.conversations.models import ConversationEvent, ConversationStatus
from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record
from apps.messaging.models import Message
from apps.reports import metrics
from apps.reports.history import history_filter_parse, history_queryset, history_range, require_manager_or_agent
from apps.reports.models import ExportFormat, ExportJob, ExportKind, ExportStatus
from apps.tenants.time import tenant_tz

CHUNK = 500
MAX_ROWS = getattr(settings, "REPORTS_EXPORT_MAX_ROWS", 1_000_000)


# The export task's hard time limit is one hour (CELERY_TASK_TIME_LIMITS in settings).
EXPORT_STALE_SECONDS = 2 * 3600


def max_running_per_user() -> int:
    return int(getattr(settings, "REPORTS_EXPORTS_RUNNING_PER_USER", 3))


def export_ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "REPORTS_EXPORT_TTL_HOURS", 24))


def _tz(user):
    return tenant_tz(user=user)


def export_create(
    *,
    actor,
    filters: dict,
    format: str = ExportFormat.CSV,
    include_transcript: bool = False,
    kind: str = ExportKind.HISTORY,
) -> ExportJob:
    """A history export (one row per conversation) or a report export (the report table)."""
    require_manager_or_agent(actor)
    if format not in ExportFormat.values:
        raise ApplicationError("invalid_format", _("Choose CSV or XLSX."))
    if kind not in ExportKind.values:
        raise ApplicationError("invalid_kind", _("Unknown kind of export."))
    if kind == ExportKind.REPORT:
        stored = report_filter_parse(filters or {})
        report_for(actor, stored, _tz(actor))  # validates the range and the scope (managers only)
        include_transcript = False
    else:
        f = history_filter_parse(filters or {})
        history_queryset(actor=actor, f=f, tz=_tz(actor))  # validates scope (404 for a branch outside it)
        stored = f.as_dict()
    with transaction.atomic():
        # The user's row lock makes "count, then create" one step for concurrent requests.
        get_user_model().objects.select_for_update().filter(pk=actor.pk).first()
        running = ExportJob.objects.filter(
            requested_by=actor,
            status__in=[ExportStatus.PENDING, ExportStatus.RUNNING],
            # A job older than the export task's hard time limit is dead, not running.
            created_at__gte=timezone.now() - timedelta(seconds=EXPORT_STALE_SECONDS),
        ).count()
        if running >= max_running_per_user():
            raise ApplicationError(
                "too_many_exports",
                _("You already have %(n)d exports in progress. Wait for one to finish.") % {"n": running},
                status=429,
            )
        job = ExportJob.objects.create(
            tenant_id=actor.tenant_id,
            requested_by=actor,
            kind=kind,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            format=format,
            filters=stored,
            include_transcript=bool(include_transcript),
        )
        audit_record(actor=actor, action="export.create", obj=job, changes={"filters": job.filters, "format": format})
        from apps.reports.tasks import export_run_task

        transaction.on_commit(lambda: export_run_task.delay(job.pk))
    return job


def export_get_for_actor(*, actor, job_id: int) -> ExportJob:
    qs = ExportJob.objects.filter(pk=job_id, tenant_id=actor.tenant_id)
    if not actor.is_super_admin:
        qs = qs.filter(requested_by=actor)
    job = qs.first()
    if job is None:
        raise NotFound(_("Export not found."))
    return job


# --- one table writer for every export --------------------------------------------------------


class Seconds(float):
    """A duration cell: h:mm:ss text in CSV, an Excel time ([h]:mm:ss) in XLSX; whole seconds."""


class Percent(float):
    """A rate cell (0-100): "12.5%" in CSV, a percentage cell in XLSX."""


@dataclass
class Table:
    sheet: str
    filters: list[tuple[str, str]]  # written above the header: what the rows were chosen by
    header: list[str]
    chunks: Iterator[tuple[list[int], list[list]]]  # (conversation ids for transcripts, rows)
    total: int


def _csv_value(value, tz):
    if value is None:
        return ""
    if isinstance(value, Seconds):
        return metrics.hms(value)
    if isinstance(value, Percent):
        return metrics.pct(value)
    if isinstance(value, datetime):
        return timezone.localtime(value, tz).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return round(value, 1)
    return _safe_cell(value)


def _xlsx_cell(ws, value, tz):
    from openpyxl.cell import WriteOnlyCell

    if value is None:
        return None
    if isinstance(value, Seconds):
        cell = WriteOnlyCell(ws, value=timedelta(seconds=max(0, round(value))))
        cell.number_format = "[h]:mm:ss"
        return cell
    if isinstance(value, Percent):
        cell = WriteOnlyCell(ws, value=round(float(value), 1) / 100)
        cell.number_format = "0.0%"
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(ws, value=timezone.localtime(value, tz).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, float):
        return round(value, 1)
    return _safe_cell(value)


def _write(job: ExportJob, table: Table, path: str, tz, tfile) -> int:
    """Filters, header, rows: the same loop for CSV and XLSX. Progress is stored per chunk."""
    done = 0
    if job.format == ExportFormat.XLSX:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(table.sheet)
        sink = None

        def put(cells):
            ws.append([_xlsx_cell(ws, v, tz) for v in cells])
    else:
        sink = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        writer = csv.writer(sink)

        def put(cells):
            writer.writerow([_csv_value(v, tz) for v in cells])

    try:
        for label, value in table.filters:
            put([label, value])
        put([])
        put(table.header)
        for ids, rows in table.chunks:
            for r in rows[: max(0, table.total - done)]:
                put(r)
            done = min(table.total, done + len(rows))
            if tfile and ids:
                tfile.writelines(transcript_lines(ids, tz))
            ExportJob.objects.filter(pk=job.pk).update(done=done)
            if done >= table.total:
                break
    finally:
        if sink is not None:
            sink.close()
    if job.format == ExportFormat.XLSX:
        wb.save(path)
    return done


# --- the conversation history export ------------------------------------------------------------

CLOSE_REASONS = {
    "agent_closed": gettext_lazy("Closed by the agent"),
    "visitor_left": gettext_lazy("The visitor left"),
    "visitor_inactive": gettext_lazy("The visitor stopped answering"),
    "queue_timeout": gettext_lazy("Waited too long in the queue"),
}


def history_columns() -> list[str]:
    return [
        _("Conversation"),
        _("Start time"),
        _("End time"),
        _("Status"),
        _("Channel"),
        _("Branch"),
        _("Agent"),
        _("Customer"),
        _("Tags"),
        _("Rating"),
        _("Rating comment"),
        _("Messages"),
        _("Queue wait"),
        _("First response"),
        _("Handling time"),
        _("Close reason"),
    ]


def _history_rows(qs):
    """(ids, rows) per chunk of conversations, keyset over the (-created_at, id) order."""
    last = None
    qs = qs.select_related("assignee", "customer", "rating").prefetch_related("tags", "channel", "branch")
    while True:
        page = qs
        if last is not None:
            page = page.filter(Q(created_at__lt=last[0]) | Q(created_at=last[0], id__gt=last[1]))
        chunk = list(page[:CHUNK])
        if not chunk:
            return
        last = (chunk[-1].created_at, chunk[-1].id)
        ids = [c.id for c in chunk]
        summaries = _summaries(chunk)
        out = []
        for c in chunk:
            rating = getattr(c, "rating", None)  # RelatedObjectDoesNotExist is an AttributeError
            times = summaries[c.id]
            out.append(
                [
                    c.id,
                    c.created_at,
                    c.closed_at,
                    c.get_status_display(),
                    c.channel.name,
                    c.branch.name if c.branch_id else "",
                    c.assignee.name if c.assignee_id else "",
                    str(c.customer),
                    ", ".join(t.name for t in c.tags.all()),
                    rating.score if rating else None,
                    rating.comment if rating else "",
                    times["messages"],
                    _seconds(times["wait_s"]),
                    _seconds(times["first_response_s"]),
                    _seconds(times["handling_s"]),
                    str(CLOSE_REASONS.get(c.close_reason, c.close_reason)),
                ]
            )
        yield ids, out


def _seconds(value):
    return None if value is None else Seconds(value)


def _summaries(chunk) -> dict[int, dict]:
    """Each conversation's own times and message count, by the report definitions (metrics)."""
    ids = [c.id for c in chunk]
    events = defaultdict(list)
    for ev in ConversationEvent.objects.filter(conversation_id__in=ids).order_by("conversation_id", "created_at", "id"):
        events[ev.conversation_id].append(ev)
    msgs = defaultdict(list)
    for cid, ts, kind, user in (
        Message.objects.filter(conversation_id__in=ids, visibility="all", sender_kind__in=metrics.COUNTED_SENDERS)
        .order_by("conversation_id", "created_at", "seq")
        .values_list("conversation_id", "created_at", "sender_kind", "sender_user_id")
    ):
        msgs[cid].append((ts, kind, user))
    out = {}
    for c in chunk:
        summary = metrics.conversation_summary(conversation=c, events=events[c.id], messages=msgs[c.id])
        summary["messages"] = len(msgs[c.id])
        out[c.id] = summary
    return out


def _history_filters(actor, f, tz) -> list[tuple[str, str]]:
    from apps.accounts.models import Branch, User
    from apps.channels.models import Channel
    from apps.conversations.models import ConversationTag

    start, end = history_range(f, tz)
    lines = [
        (_("Conversation history"), actor.tenant.name if actor.tenant_id else ""),
        (_("Dates"), _date_span(start, end, tz)),
    ]
    named = (
        (f.branch, _("Branch"), Branch),
        (f.channel, _("Channel"), Channel),
        (f.agent, _("Agent"), User),
        (f.tag, _("Tag"), ConversationTag),
    )
    for value, label, model in named:
        if value:
            obj = model.objects.filter(pk=value, tenant_id=actor.tenant_id).first()
            lines.append((label, str(getattr(obj, "name", "") or value)))
    for value, label in ((f.customer, _("Customer")), (f.satisfaction, _("Satisfaction")), (f.text, _("Text"))):
        if value:
            lines.append((label, value))
    if f.status:
        lines.append((_("Status"), str(dict(ConversationStatus.choices).get(f.status, f.status))))
    lines.append((_("Exported by"), actor.name))
    lines.append((_("Time zone"), str(tz)))
    return lines


def export_filter_words(job: ExportJob, actor) -> list[tuple[str, str]]:
    """What an export was asked for, as (label, value) pairs in the reader's language: the
    exports page shows these instead of the stored filter."""
    tz = _tz(actor)
    try:
        if job.kind == ExportKind.REPORT:
            stored = report_filter_parse(job.filters or {})
            words = {"agent": _("Agent"), "branch": _("Branch"), "channel": _("Channel"), "tag": _("Tag")}
            lines = [(_("Kind"), str(job.get_kind_display()))]
            if stored["from"] or stored["to"]:
                lines.append((_("Dates"), f"{stored['from'] or '…'} – {stored['to'] or '…'}"))
            lines.append((_("Grouped by"), str(words.get(stored["dimension"], _("Other")))))
            return lines
        lines = _history_filters(actor, history_filter_parse(job.filters or {}), tz)
    except ApplicationError:
        return []
    keep = {str(_("Conversation history")), str(_("Exported by")), str(_("Time zone"))}
    return [(str(label), str(value)) for label, value in lines if str(label) not in keep]


def _date_span(start, end, tz) -> str:
    first = timezone.localtime(start, tz).date()
    last = (timezone.localtime(end, tz) - timedelta(days=1)).date()
    return f"{first.isoformat()} – {last.isoformat()}"


def _history_table(job: ExportJob, actor, tz) -> Table:
    f = history_filter_parse(job.filters)
    qs = history_queryset(actor=actor, f=f, tz=tz, search_limit=MAX_ROWS)
    total = min(qs.count(), MAX_ROWS)
    return Table(
        sheet=_("Conversations"),
        filters=_history_filters(actor, f, tz),
        header=history_columns(),
        chunks=_history_rows(qs),
        total=total,
    )


# --- the report export: the report table of the screen --------------------------------------------


def report_filter_parse(data) -> dict:
    """The report page's query (from, to, grain, dimension, branch); bad input -> 400."""
    from apps.reports.selectors import DIMENSIONS

    get = data.get
    out = {
        "from": (get("from") or get("date_from") or "").strip(),
        "to": (get("to") or get("date_to") or "").strip(),
        "grain": (get("grain") or "d").strip(),
        "dimension": (get("dimension") or "agent").strip(),
    }
    if out["dimension"] not in DIMENSIONS:
        raise ApplicationError("invalid_dimension", _("Unknown report dimension."))
    branch = get("branch")
    if branch not in (None, ""):
        try:
            out["branch"] = int(branch)
        except (TypeError, ValueError) as exc:
            raise ApplicationError("invalid_filter", _("Invalid value for %(field)s.") % {"field": "branch"}) from exc
    return out


def report_for(actor, filters: dict, tz) -> tuple[dict, object]:
    from apps.reports import selectors

    rng = selectors.parse_range(
        tz=tz, date_from=filters.get("from"), date_to=filters.get("to"), grain=filters.get("grain")
    )
    table = selectors.report_table(
        actor=actor, dimension=filters["dimension"], rng=rng, branch_id=filters.get("branch")
    )
    return table, rng


def _cell(value, kind):
    if value is None:
        return None
    if kind == metrics.DURATION:
        return Seconds(value)
    if kind == metrics.PERCENT:
        return Percent(value)
    return round(value)


def _report_table(job: ExportJob, actor, tz) -> Table:
    from apps.accounts.models import Branch

    filters = report_filter_parse(job.filters)
    table, rng = report_for(actor, filters, tz)
    columns = metrics.report_columns(filters["dimension"])
    dims = {"agent": _("Agent"), "branch": _("Branch"), "channel": _("Channel"), "tag": _("Tag")}
    rows = [[r["name"], *(_cell(r[k], kind) for k, _l, kind in columns)] for r in table["rows"]]
    rows.append([_("Total"), *(_cell(table["total"][k], kind) for k, _l, kind in columns)])
    lines = [
        (_("Report"), actor.tenant.name if actor.tenant_id else ""),
        (_("Dates"), _date_span(rng.start, rng.end, tz)),
        (_("Group by"), str(dims[filters["dimension"]])),
    ]
    if filters.get("branch"):
        branch = Branch.objects.filter(pk=filters["branch"], tenant_id=actor.tenant_id).first()
        lines.append((_("Branch"), branch.name if branch else str(filters["branch"])))
    lines += [(_("Exported by"), actor.name), (_("Time zone"), str(tz))]
    return Table(
        sheet=_("Report"),
        filters=lines,
        header=[str(dims[filters["dimension"]]), *(str(label) for _k, label, _kind in columns)],
        chunks=iter([([], rows)]),
        total=len(rows),
    )


def _safe_cell(value):
    # CSV/formula injection: a cell starting with = + - @ is data, not a formula.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def transcript_lines(conversation_ids: list[int], tz):
    """Visitor-visible messages only (never whispers/internal notes)."""
    msgs = (
        Message.objects.filter(conversation_id__in=conversation_ids, visibility="all")
        .select_related("sender_user")
        .order_by("conversation_id", "seq")
    )
    current = None
    for m in msgs.iterator(chunk_size=2000):
        if m.conversation_id != current:
            current = m.conversation_id
            yield f"\n=== #{current} ===\n"
        who = m.sender_user.name if m.sender_user_id else m.get_sender_kind_display()
        when = timezone.localtime(m.created_at, tz).strftime("%Y-%m-%d %H:%M:%S")
        body = m.body if m.content_type == "text" else f"[{m.get_content_type_display()}] {m.body}"
        yield f"[{when}] {who}: {body}\n"


def export_run(*, job_id: int) -> ExportJob:
    """Write the file. Safe to run twice: a finished job is left alone, a half-done one restarts."""
    job = ExportJob.objects.select_related("requested_by", "requested_by__tenant").get(pk=job_id)
    if job.status == ExportStatus.DONE:
        return job
    actor = job.requested_by
    tz = _tz(actor)
    try:
        with translation.override(job.language or settings.LANGUAGE_CODE):
            table = _report_table(job, actor, tz) if job.kind == ExportKind.REPORT else _history_table(job, actor, tz)
            ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, total=table.total, done=0, error="")
            tmpdir = tempfile.mkdtemp(prefix="export-")
            path = os.path.join(tmpdir, f"{job.kind}-{job.pk}.{job.format}")
            tpath = os.path.join(tmpdir, f"transcripts-{job.pk}.txt")
            tfile = open(tpath, "w", encoding="utf-8") if job.include_transcript else None  # noqa: SIM115
            try:
                done = _write(job, table, path, tz, tfile)
            finally:
                if tfile:
                    tfile.close()
        job.refresh_from_db()
        with open(path, "rb") as fh:
            job.file.save(os.path.basename(path), File(fh), save=False)
        if job.include_transcript:
            with open(tpath, "rb") as fh:
                job.transcript_file.save(os.path.basename(tpath), File(fh), save=False)
        now = timezone.now()
        job.status, job.done, job.finished_at, job.expires_at = ExportStatus.DONE, done, now, now + export_ttl()
        job.save(update_fields=["file", "transcript_file", "status", "done", "finished_at", "expires_at"])
        for p in (path, tpath):
            if os.path.exists(p):
                os.remove(p)
        os.rmdir(tmpdir)
    except ApplicationError as exc:
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, error=str(exc.message)[:200])
    job.refresh_from_db()
    return job


def exports_expire(*, now=None) -> int:
    """Delete the files of exports past their expiry (the job row stays, marked expired)."""
    now = now or timezone.now()
    n = 0
    for job in ExportJob.objects.filter(status=ExportStatus.DONE, expires_at__lt=now).exclude(file=""):
        for field in (job.file, job.transcript_file):
            if field:
                field.delete(save=False)
        job.save(update_fields=["file", "transcript_file"])
        n += 1
    return n


def export_open_download(*, actor, job_id: int, transcript: bool = False):
    job = export_get_for_actor(actor=actor, job_id=job_id)
    field = job.transcript_file if transcript else job.file
    if job.status != ExportStatus.DONE or not field:
        raise ApplicationError("export_not_ready", _("This export is not ready or has expired."), status=409)
    if job.expires_at and job.expires_at < timezone.now():
        raise ApplicationError("export_expired", _("This download link has expired."), status=410)
    suffix = "txt" if transcript else job.format
    name = f"{'transcripts' if transcript else 'export'}-{job.pk}.{suffix}"
    return job, field, name


def export_to_dict(job: ExportJob) -> dict:
    base = f"/api/v1/exports/{job.pk}"
    return {
        "id": job.pk,
        "kind": job.kind,
        "format": job.format,
        "status": job.status,
        "progress": job.progress,
        "total": job.total,
        "done": job.done,
        "filters": job.filters,
        "include_transcript": job.include_transcript,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "download_url": f"{base}/download/" if job.status == ExportStatus.DONE and job.file else None,
        "transcript_url": f"{base}/download/?transcript=1"
        if job.status == ExportStatus.DONE and job.transcript_file
        else None,
    }
