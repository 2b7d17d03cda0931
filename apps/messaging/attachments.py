"""Attachment upload: size limit, type by content (never by name), images re-encoded by Pillow."""

from __future__ import annotations

import io
import os
import uuid

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from apps.core.errors import ApplicationError
from apps.core.files import signed_query
from apps.messaging.models import Attachment, ContentType

IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "PNG", "image/webp": "PNG"}
FILE_TYPES = {
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "audio/mpeg",
    "video/mp4",
}
MAX_IMAGE_PIXELS = 40_000_000


def max_bytes() -> int:
    return int(getattr(settings, "IM_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def _reencode_image(data: bytes, mime: str) -> tuple[bytes, str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise ApplicationError("attachment_too_large", _("The image has too many pixels."), status=413)
            probe.verify()
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)  # keep the orientation, drop EXIF (GPS...)
            fmt = IMAGE_TYPES[mime]
            if fmt == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            if fmt == "PNG" and image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                image = image.convert("RGBA")
            out = io.BytesIO()
            image.save(out, format=fmt, **({"quality": 85, "optimize": True} if fmt == "JPEG" else {}))
            return out.getvalue(), "image/jpeg" if fmt == "JPEG" else "image/png", image.width, image.height
    except ApplicationError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApplicationError("attachment_invalid", _("The image is damaged or not an image."), status=400)


def attachment_create(*, conversation, upload, user=None) -> Attachment:
    """Check and store an uploaded file for a conversation."""
    size = getattr(upload, "size", None) or 0
    if size > max_bytes():
        raise ApplicationError(
            "attachment_too_large",
            _("A file can be at most %(n)d MB.") % {"n": max_bytes() // (1024 * 1024)},
            status=413,
        )
    data = upload.read(max_bytes() + 1)
    if len(data) > max_bytes():
        raise ApplicationError(
            "attachment_too_large",
            _("A file can be at most %(n)d MB.") % {"n": max_bytes() // (1024 * 1024)},
            status=413,
        )
    if not data:
        raise ApplicationError("attachment_invalid", _("The file is empty."))
    kind = filetype.guess(data)
    mime = kind.mime if kind is not None else ""
    if mime not in IMAGE_TYPES and mime not in FILE_TYPES:
        raise ApplicationError("attachment_type_not_allowed", _("This type of file is not allowed."), status=415)
    width = height = None
    ext = kind.extension
    if mime in IMAGE_TYPES:
        data, mime, width, height = _reencode_image(data, mime)
        ext = "jpg" if mime == "image/jpeg" else "png"
    original = os.path.basename(getattr(upload, "name", "") or "")[:200]
    attachment = Attachment(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        original_name=original,
        mime_type=mime,
        size=len(data),
        width=width,
        height=height,
        uploaded_by_user=user if getattr(user, "pk", None) else None,
    )
    attachment.file.save(f"{uuid.uuid4().hex}.{ext}", ContentFile(data), save=False)
    attachment.save()
    return attachment


def attachment_path(attachment_id: int) -> str:
    """The attachment's stable address: a staff session that may see the conversation opens it."""
    return reverse("attachment-content", kwargs={"pk": attachment_id})


def attachment_url(attachment_id: int, *, ttl: int | None = None, absolute: bool = False) -> str:
    """A link anyone holding it may open until it expires (visitors' <img>, partners' servers)."""
    url = f"{attachment_path(attachment_id)}?{signed_query('attachment', attachment_id, ttl=ttl)}"
    if absolute:
        url = getattr(settings, "PUBLIC_BASE_URL", "").rstrip("/") + url
    return url


def payload_with_signed_urls(payload: dict, **kwargs) -> dict:
    """A message payload as it goes out: its attachment's link signed afresh (the stored url may be
    the stable path, or the public /media/ path of rows written before files became private)."""
    attachment = payload.get("attachment") if isinstance(payload, dict) else None
    if not isinstance(attachment, dict) or not isinstance(attachment.get("id"), int):
        return payload
    return {**payload, "attachment": {**attachment, "url": attachment_url(attachment["id"], **kwargs)}}


def attachment_to_dict(attachment: Attachment) -> dict:
    """The stored form (in message payloads): the stable path; senders sign it on the way out."""
    return {
        "id": attachment.pk,
        "url": attachment_path(attachment.pk),
        "name": attachment.original_name,
        "mime_type": attachment.mime_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
    }


def attachment_message_fields(*, conversation, attachment_id: int) -> tuple[str, dict]:
    """(content_type, payload) of a message that carries an attachment of this conversation."""
    attachment = Attachment.objects.filter(
        pk=attachment_id, conversation_id=conversation.pk, tenant_id=conversation.tenant_id
    ).first()
    if attachment is None:
        raise ApplicationError("not_found", _("Attachment not found."), status=404)
    return attachment_message_content(attachment)


def attachment_message_content(attachment: Attachment) -> tuple[str, dict]:
    """(content_type, payload) of a message carrying this stored attachment."""
    content_type = ContentType.IMAGE if attachment.mime_type.startswith("image/") else ContentType.FILE
    return content_type, {"attachment": attachment_to_dict(attachment)}
