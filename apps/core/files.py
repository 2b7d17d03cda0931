"""Private files: stored under names nobody can guess, never under a public URL.

Attachments, exports and transcripts live in MEDIA_ROOT but no URL maps onto it (only
`tenant-logos/`, shown to visitors, is public). They are read through views that check a
credential: a staff session or visitor token that may see the object, or a signed link that
expires (`signed_query`). The bytes are sent by Django, or, behind the shipped nginx, by nginx
itself from an `internal` location (`X-Accel-Redirect`, PRIVATE_MEDIA_ACCEL_PREFIX), so a large
export never ties up a web process.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
import time
from urllib.parse import quote, urlencode

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.utils.crypto import constant_time_compare, salted_hmac

SIGNING_SALT = "kefu.private-file"
PUBLIC_MEDIA_PREFIXES = ("tenant-logos/",)


def private_name(prefix: str, extension: str) -> str:
    """`prefix/<2 hex>/<32 hex>.<ext>`: 128 random bits, spread over 256 directories."""
    token = secrets.token_hex(16)
    extension = extension.lstrip(".").lower()
    return f"{prefix}/{token[:2]}/{token}" + (f".{extension}" if extension else "")


def private_upload_to(instance, filename: str) -> str:
    """upload_to of private FileFields: `<model>s/<2 hex>/<32 hex>.<ext>` (the name the user
    gave is kept in the row, never in the path)."""
    return private_name(f"{instance._meta.model_name}s", os.path.splitext(filename)[1])


def url_ttl() -> int:
    return int(getattr(settings, "PRIVATE_FILE_URL_TTL", 24 * 3600))


def _signature(kind: str, object_id: int, expires: int) -> str:
    return salted_hmac(SIGNING_SALT, f"{kind}:{object_id}:{expires}", algorithm="sha256").hexdigest()[:40]


def signed_query(kind: str, object_id: int, *, ttl: int | None = None, now: float | None = None) -> str:
    """`exp=<unix>&sig=<hmac>` granting read access to one object until `exp`.

    The expiry is rounded up to the next full hour, so every link signed within one hour is the
    same string and browsers can cache the file; a link lives between ttl and ttl + 1 h.
    """
    now = time.time() if now is None else now
    ttl = url_ttl() if ttl is None else ttl
    expires = (int(now) // 3600 + 1) * 3600 + int(ttl)
    return urlencode({"exp": expires, "sig": _signature(kind, int(object_id), expires)})


def signature_state(kind: str, object_id: int, params, *, now: float | None = None) -> str:
    """'valid', 'expired' (a genuine link past its time) or 'absent' (no or a forged signature)."""
    raw_exp, sig = params.get("exp"), params.get("sig")
    if not raw_exp or not sig:
        return "absent"
    try:
        expires = int(raw_exp)
    except (TypeError, ValueError):
        return "absent"
    if not constant_time_compare(_signature(kind, int(object_id), expires), str(sig)):
        return "absent"
    now = time.time() if now is None else now
    return "valid" if now < expires else "expired"


def private_file_response(field_file, *, filename: str, content_type: str | None = None, as_attachment: bool):
    """The bytes of a private FieldFile: by nginx (X-Accel-Redirect) when configured, else by Django."""
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    prefix = getattr(settings, "PRIVATE_MEDIA_ACCEL_PREFIX", "")
    if prefix:
        response: HttpResponse | FileResponse = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(field_file.name.lstrip("/"))
        disposition = "attachment" if as_attachment else "inline"
        response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(os.path.basename(filename))}"
    else:
        response = FileResponse(
            field_file.open("rb"), as_attachment=as_attachment, filename=filename, content_type=content_type
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    # A stored file is never a page: nothing in it may run scripts in our origin.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return response
