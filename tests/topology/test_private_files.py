"""Private files behind the real nginx (docker/nginx.conf, in the topology the session fixture of
conftest.py starts): Django authorises an export download and answers with X-Accel-Redirect only;
nginx sends the bytes from its `internal` location, which no client can request itself."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

pytestmark = [pytest.mark.timeout(240)]


def _request(url: str, *, cookie: str | None = None, body: dict | None = None) -> tuple[int, dict, bytes]:
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    data = None
    if body is not None:
        token = uuid.uuid4().hex
        headers.update({"Content-Type": "application/json", "X-CSRFToken": token})
        headers["Cookie"] = f"{cookie}; csrftoken={token}"
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_an_export_download_is_sent_by_nginx_from_its_internal_location_only(topology):
    topo, data = topology.topo, topology.data
    cookie = f"{data['session_cookie_name']}={data['supervisor']['session']}"
    status, _h, body = _request(f"{topo.url}/api/v1/exports/", cookie=cookie, body={"format": "csv", "filters": {}})
    assert status == 201, body[:500]
    job_id = json.loads(body)["id"]
    # The topology runs no exports worker: write the file with the export service itself, in a
    # process with the deployment's settings (the same MEDIA_ROOT nginx serves from).
    out = (
        topo.manage(
            "shell",
            "-c",
            "from apps.reports.exports import export_run;"
            f"job = export_run(job_id={job_id});"
            "print(job.status, job.file.name)",
        )
        .stdout.splitlines()[-1]
        .split()
    )
    assert out[0] == "done", out
    name = out[1]
    on_disk = (topo.root / "var" / "media" / name).read_bytes()
    assert on_disk, name
    path = f"/api/v1/exports/{job_id}/download/"

    # daphne itself only authorises: an empty body and where nginx finds the bytes.
    daphne = f"http://127.0.0.1:{topo.port_of('daphne-1')}"
    status, headers, body = _request(daphne + path, cookie=cookie)
    assert status == 200 and body == b""
    assert headers["X-Accel-Redirect"] == f"/_protected/{name}"
    # Through nginx: the file's bytes, from the internal location, as an attachment.
    status, headers, body = _request(topo.url + path, cookie=cookie)
    assert status == 200 and body == on_disk
    assert "X-Accel-Redirect" not in headers
    assert headers["Content-Disposition"].startswith("attachment;")
    # Django's security headers survive the internal redirect (nginx drops them otherwise).
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    # Without a session: no bytes.
    status, _h, body = _request(topo.url + path)
    assert status in (401, 403) and on_disk not in body

    # The internal location and the media directory are not reachable from outside, with or
    # without a session.
    for direct in (f"/_protected/{name}", f"/media/{name}"):
        for who in (None, cookie):
            status, _h, body = _request(topo.url + direct, cookie=who)
            assert status == 404, (direct, status)
            assert on_disk not in body
