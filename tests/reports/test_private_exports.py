"""Exports and transcripts: unguessable names, no public URL, only the download endpoint (owner
or super admin, tenant, expiry), and a per-user cap on running jobs."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from apps.core.errors import ApplicationError
from apps.reports import exports
from apps.reports.models import ExportJob, ExportStatus
from tests.conftest import PASSWORD
from tests.reports.conftest import T0

FILTERS = {"date_from": "2026-03-01", "date_to": "2026-03-03"}


@pytest.fixture
def done_job(history, django_capture_on_commit_callbacks):
    history.served(at=T0, agent=history.org.agent_sh)
    with django_capture_on_commit_callbacks(execute=True):
        job = exports.export_create(actor=history.org.sup_east, filters=FILTERS, include_transcript=True)
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE
    return job


def _client(user) -> Client:
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    return client


def test_export_files_have_unguessable_names_and_no_public_url(done_job):
    for field in (done_job.file, done_job.transcript_file):
        assert re.fullmatch(r"exportjobs/([0-9a-f]{2})/\1[0-9a-f]{30}\.(csv|txt)", field.name), field.name
        assert Client().get(f"/media/{field.name}").status_code == 404
    assert Client().get(f"/api/v1/exports/{done_job.pk}/download/").status_code in (401, 403)


def test_only_the_owner_or_a_super_admin_downloads(done_job, history, history_b):
    org = history.org
    url = f"/api/v1/exports/{done_job.pk}/download/"
    owner = _client(org.sup_east).get(url)
    assert owner.status_code == 200 and owner["Content-Disposition"].endswith(f'export-{done_job.pk}.csv"')
    assert owner["Content-Type"].startswith("text/csv") and owner["Cache-Control"] == "private, no-store"
    transcript = _client(org.admin).get(url + "?transcript=1")
    assert transcript.status_code == 200 and b"===" in b"".join(transcript.streaming_content)
    for stranger in (org.sup_south, org.agent_sh, history_b.org.admin):
        assert _client(stranger).get(url).status_code == 404
        assert _client(stranger).get(url + "?transcript=1").status_code == 404


def test_download_behind_nginx_is_an_internal_redirect(done_job, history):
    with override_settings(PRIVATE_MEDIA_ACCEL_PREFIX="/_protected/"):
        response = _client(history.org.sup_east).get(f"/api/v1/exports/{done_job.pk}/download/")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/_protected/{done_job.file.name}"


def test_running_exports_are_capped_per_user(history, settings):
    settings.REPORTS_EXPORTS_RUNNING_PER_USER = 2
    org = history.org
    # No worker runs them (nothing executes on commit here): they stay pending.
    for _ in range(2):
        exports.export_create(actor=org.sup_east, filters=FILTERS)
    with pytest.raises(ApplicationError) as exc:
        exports.export_create(actor=org.sup_east, filters=FILTERS)
    assert exc.value.code == "too_many_exports" and exc.value.status_code == 429
    response = _client(org.sup_east).post(
        "/api/v1/exports/", {"filters": FILTERS}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 429 and response.json()["error"]["code"] == "too_many_exports"
    assert "in progress" in response.json()["error"]["message"]
    # Another user is not held up, and a finished job frees a place.
    exports.export_create(actor=org.sup_south, filters=FILTERS)
    ExportJob.objects.filter(requested_by=org.sup_east).update(status=ExportStatus.FAILED)
    exports.export_create(actor=org.sup_east, filters=FILTERS)
