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
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ApplicationError, NotFound
from apps.core.services import audit_record
from apps.messaging.models import Message
from apps.reports.history import history_filter_parse, history_queryset, require_manager_or_agent
from apps.reports.models import ExportFormat, ExportJob, ExportStatus
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
    *, actor, filters: dict, format: str = ExportFormat.CSV, include_transcript: bool = False
) -> ExportJob:
    require_manager_or_agent(actor)
    if format not in ExportFormat.values:
        raise ApplicationError("invalid_format", _("Choose CSV or XLSX."))
    f = history_filter_parse(filters or {})
    history_queryset(actor=actor, f=f, tz=_tz(actor))  # validates scope (404 for a branch outside it)
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
            format=format,
            filters=f.as_dict(),
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


COLUMNS = [
    ("id", "Conversation"),
    ("started", "Started"),
    ("closed", "Closed"),
    ("status", "Status"),
    ("channel", "Channel"),
    ("branch", "Branch"),
    ("agent", "Agent"),
    ("customer", "Customer"),
    ("tags", "Tags"),
    ("rating", "Rating"),
    ("rating_comment", "Rating comment"),
    ("messages", "Messages"),
    ("first_response_s", "First response (s)"),
    ("handling_s", "Handling time (s)"),
    ("close_reason", "Close reason"),
]


def _rows(job: ExportJob, qs, tz):
    """Yield lists of row dicts, one list per chunk."""
    last = None
    qs = qs.select_related("assignee", "customer", "rating").prefetch_related("tags", "channel", "branch")
    # Keyset over the (-created_at, id) order: no OFFSET scans on big exports.
    while True:
        page = qs
        if last is not None:
            page = page.filter(Q(created_at__lt=last[0]) | Q(created_at=last[0], id__gt=last[1]))
        chunk = list(page[:CHUNK])
        if not chunk:
            return
        last = (chunk[-1].created_at, chunk[-1].id)
        counts = dict(
            Message.objects.filter(conversation_id__in=[c.id for c in chunk], visibility="all")
            .exclude(sender_kind="system")
            .values_list("conversation_id")
            .annotate(n=Count("id"))
        )
        out = []
        for c in chunk:
            rating = getattr(c, "rating", None)  # RelatedObjectDoesNotExist is an AttributeError
            frt = (c.first_response_at - c.assigned_at).total_seconds() if c.first_response_at and c.assigned_at else ""
            aht = (c.closed_at - c.assigned_at).total_seconds() if c.closed_at and c.assigned_at else ""
            out.append(
                {
                    "id": c.id,
                    "started": timezone.localtime(c.created_at, tz).strftime("%Y-%m-%d %H:%M:%S"),
                    "closed": timezone.localtime(c.closed_at, tz).strftime("%Y-%m-%d %H:%M:%S") if c.closed_at else "",
                    "status": c.get_status_display(),
                    "channel": c.channel.name,
                    "branch": c.branch.name if c.branch_id else "",
                    "agent": c.assignee.name if c.assignee_id else "",
                    "customer": str(c.customer),
                    "tags": ", ".join(t.name for t in c.tags.all()),
                    "rating": rating.score if rating else "",
                    "rating_comment": rating.comment if rating else "",
                    "messages": counts.get(c.id, 0),
                    "first_response_s": frt,
                    "handling_s": aht,
                    "close_reason": c.close_reason,
                }
            )
        yield chunk, out


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
        f = history_filter_parse(job.filters)
        qs = history_queryset(actor=actor, f=f, tz=tz, search_limit=MAX_ROWS)
        total = min(qs.count(), MAX_ROWS)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, total=total, done=0, error="")
        header = [_(label) for _key, label in COLUMNS]
        keys = [k for k, _label in COLUMNS]
        tmpdir = tempfile.mkdtemp(prefix="export-")
        path = os.path.join(tmpdir, f"export-{job.pk}.{job.format}")
        tpath = os.path.join(tmpdir, f"transcripts-{job.pk}.txt")
        tfile = open(tpath, "w", encoding="utf-8") if job.include_transcript else None  # noqa: SIM115
        done = 0
        if job.format == ExportFormat.XLSX:
            from openpyxl import Workbook

            wb = Workbook(write_only=True)
            ws = wb.create_sheet(_("Conversations"))
            ws.append(header)
            for chunk, rows in _rows(job, qs, tz):
                for r in rows[: max(0, total - done)]:
                    ws.append([_safe_cell(r[k]) for k in keys])
                done = min(total, done + len(rows))
                if tfile:
                    tfile.writelines(transcript_lines([c.id for c in chunk], tz))
                ExportJob.objects.filter(pk=job.pk).update(done=done)
                if done >= total:
                    break
            wb.save(path)
        else:
            with open(path, "w", encoding="utf-8-sig", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(header)
                for chunk, rows in _rows(job, qs, tz):
                    for r in rows[: max(0, total - done)]:
                        w.writerow([_safe_cell(r[k]) for k in keys])
                    done = min(total, done + len(rows))
                    if tfile:
                        tfile.writelines(transcript_lines([c.id for c in chunk], tz))
                    ExportJob.objects.filter(pk=job.pk).update(done=done)
                    if done >= total:
                        break
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
