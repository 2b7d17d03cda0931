"""Pages and files served by the IM layer (not JSON: the REST side is in api/)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from apps.core.errors import NotFound
from apps.core.files import private_file_response, signature_state
from apps.messaging import selectors
from apps.messaging.models import Attachment


@require_safe
def attachment_content(request: HttpRequest, pk: int):
    """An attachment's bytes, for a signed link that has not expired or a staff session that may
    see the conversation. Anything else is a 404, whether or not the attachment exists."""
    attachment = Attachment.objects.filter(pk=pk).first()
    if attachment is None or not attachment.file:
        raise Http404
    state = signature_state("attachment", pk, request.GET)
    if state != "valid":
        user = request.user
        allowed = False
        if user.is_authenticated and user.is_active and user.tenant_id == attachment.tenant_id:
            try:
                if attachment.conversation_id is not None:
                    selectors.conversation_get_for_agent(user=user, conversation_id=attachment.conversation_id)
                    allowed = True
            except NotFound:
                pass
        if not allowed:
            if state == "expired":
                message = _("This link has expired. Open the conversation again.")
                return HttpResponse(message, status=410, content_type="text/plain; charset=utf-8")
            raise Http404
    inline = attachment.mime_type.startswith("image/")
    return private_file_response(
        attachment.file,
        filename=attachment.original_name or (attachment.file.name or "").rsplit("/", 1)[-1],
        content_type=attachment.mime_type,
        as_attachment=not inline,
    )
